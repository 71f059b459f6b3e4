import {Flags} from '@oclif/core'

import {BaseCommand} from '../../cli/base-command.js'
import {readFlags, taskFilterFlags, taskFilterFromFlags, waitTimeoutFlag} from '../../cli/flags.js'
import {formatDuration} from '../../lib/duration.js'
import {ResultExit} from '../../lib/errors.js'
import {ExitCode} from '../../lib/exit-codes.js'

export default class TaskWatch extends BaseCommand<typeof TaskWatch> {
  static override summary = 'Watch tasks live: state, progress, age and site, from the task lifecycle events.'
  static override description = `Reads DV_TASK on each selected site: the history first (bounded by --since), then live. On a terminal the table is redrawn in place (task, service, state, progress bar with percent and message, age, site); otherwise one line per event; with --json one NDJSON line per message ({site, stream, seq, subject, time, envelope, task}, or {..., invalid: true, problems, raw} for a message that breaks the contract). An event after a terminal state or with an unknown verb is flagged as an illegal transition and the watch goes on. A site that drops is reported on stderr and resumes from the last event seen once it is back.

--until-done stops once every watched task is terminal: exit 0 when all succeeded, 8 when any failed or was cancelled, 9 when --wait-timeout passes first. --wait-timeout without --until-done ends the watch after that long (exit 0).`
  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --correlation 5f0c7d3e-8a1b-4c2d-9e3f-0a1b2c3d4e5f --until-done --wait-timeout 5m',
    '<%= config.bin %> <%= command.id %> --service maskin --tenant t1 --since 1h --all-sites',
    '<%= config.bin %> <%= command.id %> --correlation 5f0c7d3e-8a1b-4c2d-9e3f-0a1b2c3d4e5f --until-done --json',
  ]

  protected override streamsNdjson(): boolean {
    return true
  }

  static override flags = {
    ...readFlags,
    ...taskFilterFlags,
    'until-done': Flags.boolean({
      summary: 'Stop when every watched task is terminal: exit 0 succeeded, 8 failed/cancelled, 9 on --wait-timeout.',
    }),
    'wait-timeout': waitTimeoutFlag('Stop watching after this long (with --until-done: exit 9); default: no limit.'),
  }

  async run(): Promise<void> {
    const {flags} = this
    const fan = await this.connectMany({allSites: flags['all-sites']})
    const {watchTasks} = await import('../../lib/tasks/watch.js')
    const render = await import('../../lib/render/tasks.js')
    const {err, jsonLine, out, warn} = await import('../../lib/render/terminal.js')
    const {renderSiteNotice} = await import('../../lib/render/workflow.js')
    const {resolveFilterIds} = await import('../../lib/ids.js')
    const filter = await resolveFilterIds(fan.connections, taskFilterFromFlags(flags))
    const live =
      this.term.stdoutTTY && !this.jsonEnabled()
        ? new render.LiveTaskTable({
            what: render.taskFilterText(filter),
            sites: fan.connections.map((c) => c.site.name),
          })
        : undefined
    const notices: string[] = []
    let caughtUp = false
    live?.start()
    const {outcome, board} = await watchTasks(fan.connections, {
      filter,
      sinceMs: flags.since,
      live: true,
      untilDone: flags['until-done'],
      timeoutMs: flags['wait-timeout'],
      // The reader going away (`| head`) ends the watch as Ctrl-C does (BaseCommand makes it exit 0).
      signal: AbortSignal.any([this.signal, this.io.closed()]),
      onItem: async (item, b) => {
        if (item.kind === 'caught-up') {
          caughtUp = true
          live?.update(b.tasks(), notices)
          return
        }
        if (item.kind === 'site-error') {
          // On the live screen a stderr line would be drawn over; it goes under the table.
          if (live) return void notices.push(`${item.error.message} (skipped; the other sites are still read)`)
          warn(`${item.error.message} (skipped; the other sites are still read)`)
          return
        }
        if (item.kind === 'site-down' || item.kind === 'site-up') {
          // As tail reports it; inside the redrawn table a stderr line would break the frame.
          if (!live) return renderSiteNotice(item)
          notices.push(
            item.kind === 'site-down'
              ? `site ${item.site} disconnected; waiting for it to come back`
              : `site ${item.site} reconnected; resuming`,
          )
          if (caughtUp) live.update(b.tasks(), notices)
          return
        }
        if (this.jsonEnabled()) {
          jsonLine(item.line)
          await this.io.writable()
          return
        }
        if (item.kind === 'invalid') {
          const text = `invalid message ${item.line.site}/${item.line.stream}:${item.line.seq} on ${item.line.subject}: ${item.line.problems.map((p) => `${p.path} ${p.code}`).join(', ')}`
          if (live) notices.push(text)
          else warn(text)
        } else if (item.update?.illegal) {
          const text = `illegal transition: task ${item.update.task.task_id} (${item.line.site}/${item.line.stream}:${item.line.seq}): ${item.update.illegal.message}`
          if (live) notices.push(text)
          else warn(text)
        }
        if (live) {
          // History replays fast; draw once it is read, then on every live event.
          if (caughtUp) live.update(b.tasks(), notices)
        } else if (item.kind === 'message' && item.update) {
          out(render.taskEventLine(this.term, item.update))
          await this.io.writable()
        }
      },
    })
      // The live screen ends however the watch does, with its last state printed on the user's screen.
      .then((watched) => {
        live?.update(watched.board.tasks(), notices)
        return watched
      })
      .finally(() => live?.stop())
    if (!this.jsonEnabled()) {
      err(render.watchSummary(board.tasks()))
      for (const line of render.failureLines(board.tasks())) err(line)
      if (outcome === 'timeout' && flags['until-done']) {
        err(`Timed out after ${formatDuration(flags['wait-timeout'] ?? 0)} with tasks still running.`)
      }
    }
    if (outcome === 'interrupted') throw new ResultExit(ExitCode.interrupted)
    if (!flags['until-done']) return
    if (outcome === 'failed') throw new ResultExit(ExitCode.workFailed)
    if (outcome === 'timeout') throw new ResultExit(ExitCode.timeout)
  }
}
