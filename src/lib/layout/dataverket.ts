import {SERVICES} from '../contract/services.js'
import {DLQ_ADVISORY_SUBJECTS, DLQ_LEDGER_BUCKET, STREAMS} from './names.js'
import type {ConsumerSpec, Layout} from './schema.js'

/**
 * The built-in `dataverket` layout (docs/operations.md, layouts), in the layout-file format: what `dvctl layout
 * apply` provisions when no file is given, and what `sandbox up` and the test fixtures apply.
 */
export function dataverketLayout(): Layout {
  const consumers: Record<string, ConsumerSpec> = {}
  for (const service of SERVICES) {
    consumers[service] = {
      filter_subject: `dv.${service}.cmd.>`,
      ack_policy: 'explicit',
      deliver_policy: 'all',
      replay_policy: 'instant',
      max_deliver: 5,
      backoff: ['1s', '5s', '30s', '2m'],
      ack_wait: '30s',
    }
  }
  return {
    layout: 'dataverket',
    description: 'The standard Dataverket layout: commands, events, task lifecycle, dead letters and their ledger.',
    streams: {
      // Limits, not WorkQueue/Interest: commands stay readable for replay and workflow reconstruction.
      [STREAMS.cmd]: {
        subjects: ['dv.*.cmd.>'],
        retention: 'limits',
        storage: 'file',
        max_age: '14d',
        duplicate_window: '2m',
        consumers,
      },
      [STREAMS.evt]: {
        subjects: SERVICES.map((service) => `dv.${service}.evt.>`),
        retention: 'limits',
        storage: 'file',
        max_age: '30d',
      },
      [STREAMS.task]: {
        subjects: ['dv.task.evt.>'],
        retention: 'limits',
        storage: 'file',
        max_age: '30d',
      },
      [STREAMS.dlq]: {
        subjects: [...DLQ_ADVISORY_SUBJECTS],
        retention: 'limits',
        storage: 'file',
        max_age: '30d',
      },
    },
    kv: {
      [DLQ_LEDGER_BUCKET]: {history: 64},
    },
    sites: {},
  }
}
