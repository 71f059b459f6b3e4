import {Flags} from '@oclif/core'

import {BaseCommand} from '../../cli/base-command.js'
import {constantHelp, durationFlag} from '../../cli/flags.js'

export default class DlqCapture extends BaseCommand<typeof DlqCapture> {
  static override summary = "Keep every dead letter's original: copy it into DV_DLQ_ARCHIVE as it is dead-lettered."
  static override description = `A long-running process for one site. Through the durable consumer dlq_capture on DV_DLQ it sees each dead-letter advisory once and copies the original command (subject, headers and data, byte for byte) with the advisory's details into the site's dead-letter archive, the stream DV_DLQ_ARCHIVE (subjects dvarchive.<stream>.<seq>); only then does it acknowledge the advisory. A dead letter archived already (after a restart, by a second capture process, or by a dlq list) is not copied again. dlq show, dlq replay and --edit read the original from the archive once DV_CMD no longer has it.

It writes a heartbeat (every --heartbeat) to the KV bucket dv_dlq_runtime; doctor reports a site whose DV_CMD keeps commands for less time than DV_DLQ keeps dead letters while no capture heartbeat is fresh.

--handled-ttl: on nats-server 2.11+ (the archive allows per-message TTL), the copy of a dead letter that was replayed or discarded expires this long after it was handled; a pending dead letter's copy never expires, nor does the copy of one whose last replay failed or was dead-lettered again (replay_failed): capture follows each replay's outcome and, once it fails, writes the copy again without a TTL. On older servers copies are kept until deleted, and capture says so.

It needs the standard layout (DV_DLQ with its dlq_capture consumer, DV_DLQ_ARCHIVE, dv_dlq_runtime; dvctl layout apply). It runs until SIGINT or SIGTERM (exit 0, after the advisory in hand), or with --once until every advisory there is has been handled. One line per dead letter on stdout (--json: one JSON object per line), warnings on stderr. See docs/operations.md for a systemd unit and a container command.`
  static override examples = [
    '<%= config.bin %> <%= command.id %> --site osl1',
    '<%= config.bin %> <%= command.id %> --site osl1 --handled-ttl 7d',
    '<%= config.bin %> <%= command.id %> --server nats://127.0.0.1:4222 --once --json',
  ]

  static override flags = {
    'handled-ttl': durationFlag({
      summary:
        'Let the archived copy of a replayed or discarded dead letter expire after this long (nats-server 2.11+).',
    }),
    heartbeat: durationFlag({
      summary: 'How often the heartbeat is written to KV dv_dlq_runtime.',
      default: 5000,
      defaultHelp: constantHelp('5s'),
    }),
    once: Flags.boolean({summary: 'Archive what DV_DLQ holds now, then exit (instead of running until stopped).'}),
  }

  protected override streamsNdjson(): boolean {
    return true
  }

  async run(): Promise<void> {
    const conn = await this.connectOne()
    const [{runCapture}, {renderCaptureEvent}] = await Promise.all([
      import('../../lib/dlq/capture.js'),
      import('../../lib/render/dlq.js'),
    ])
    const summary = await runCapture(conn, {
      signal: this.signal,
      handledTtlMs: this.flags['handled-ttl'],
      heartbeatMs: this.flags.heartbeat,
      once: this.flags.once,
      onEvent: (event) => renderCaptureEvent(this.term, event),
    })
    renderCaptureEvent(this.term, {kind: 'stopped', ...summary})
  }
}
