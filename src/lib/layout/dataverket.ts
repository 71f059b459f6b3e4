import {SERVICES} from '../contract/services.js'
import {supportsMessageTtl} from '../nats/server-version.js'
import {
  DLQ_ADVISORY_SUBJECTS,
  DLQ_ARCHIVE_PREFIX,
  DLQ_ARCHIVE_STREAM,
  DLQ_CAPTURE_CONSUMER,
  DLQ_LEDGER_BUCKET,
  DLQ_RUNTIME_BUCKET,
  DLQ_TRIAGE_BUCKET,
  STREAMS,
} from './names.js'
import type {ConsumerSpec, Layout} from './schema.js'

export interface DataverketOptions {
  /**
   * The site's server version: on nats-server 2.11+ the archive allows per-message TTL (handled dead
   * letters' copies may expire); older servers have no such field. Unknown: left out.
   */
  serverVersion?: string
  /** Every stream and bucket at this many replicas (a clustered sandbox); consumers inherit their stream's. */
  replicas?: number
}

/** Layouts made by dataverketLayout(), with the options they were made with: planSite fits them to the server. */
const builtIn = new WeakMap<Layout, DataverketOptions>()

/** The options a built-in layout was made with; undefined for a layout read from a file. */
export function builtInOptions(layout: Layout): DataverketOptions | undefined {
  return builtIn.get(layout)
}

/**
 * The built-in `dataverket` layout (docs/operations.md, layouts), in the layout-file format: what `dvctl layout
 * apply` provisions when no file is given, and what `sandbox up` and the test fixtures apply. Planned
 * against a site, it is made again for that site's server version (planSite), so that one built-in layout
 * fits nats-server 2.9 and 2.11+ alike.
 */
export function dataverketLayout(options: DataverketOptions = {}): Layout {
  const layout = standardLayout(options)
  if (options.replicas && options.replicas > 1) {
    for (const spec of Object.values(layout.streams)) spec.replicas = options.replicas
    for (const spec of Object.values(layout.kv)) spec.replicas = options.replicas
  }
  builtIn.set(layout, options)
  return layout
}

function standardLayout(options: DataverketOptions): Layout {
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
        consumers: {
          // `dlq capture`: sees each advisory once, acknowledged only after the original is archived.
          [DLQ_CAPTURE_CONSUMER]: {
            description: 'dvctl dlq capture: copies each dead letter into DV_DLQ_ARCHIVE',
            ack_policy: 'explicit',
            deliver_policy: 'all',
            ack_wait: '30s',
            max_ack_pending: 1000,
          },
        },
      },
      // Dead letters' originals (docs/contract.md): one per dead letter, never aged out by the stream
      // (a pending dead letter's copy is kept as long as its advisory matters); on 2.11+ a handled one's
      // copy may carry a per-message TTL.
      [DLQ_ARCHIVE_STREAM]: {
        description: "Dead letters' original commands, copied by dvctl dlq capture",
        subjects: [`${DLQ_ARCHIVE_PREFIX}.>`],
        retention: 'limits',
        storage: 'file',
        max_msgs_per_subject: 1,
        duplicate_window: '2m',
        ...(supportsMessageTtl(options.serverVersion) ? {allow_msg_ttl: true} : {}),
      },
    },
    kv: {
      [DLQ_LEDGER_BUCKET]: {history: 64},
      [DLQ_RUNTIME_BUCKET]: {history: 1},
      [DLQ_TRIAGE_BUCKET]: {history: 16},
    },
    sites: {},
  }
}
