import {Args, Flags} from '@oclif/core'

import {BaseCommand} from '../../cli/base-command.js'
import {durationFlag, readFlags} from '../../cli/flags.js'
import {notFound, ResultExit} from '../../lib/errors.js'
import {ExitCode} from '../../lib/exit-codes.js'
import {type FanOut} from '../../lib/nats/fanout.js'
import type {WorkflowView} from '../../lib/render/workflow.js'
import type {WorkflowResult} from '../../lib/workflow/read.js'
import type {ScanWindow} from '../../lib/nats/reader.js'
import {resolveWindow} from '../../lib/workflow/window.js'

export default class WorkflowShow extends BaseCommand<typeof WorkflowShow> {
  static override summary = 'Show every message of one workflow across streams and sites, as a causation tree.'
  static override description = `Reads DV_CMD, DV_EVT, DV_TASK and DV_DLQ of each selected site (--site repeated, or --all-sites) for the messages whose correlation_id is CORRELATION_ID, within --since (default 24h) or --from/--to.

Each message is placed under the message whose id is its causation_id, even across sites, with its time relative to the workflow's start, site, subject, type and marks: task states, failures (task failed or cancelled), dead letters, and orphans (parent not seen: kept, never dropped). The status is dead-lettered, failed, succeeded (every task succeeded) or running.

An unreachable site is a warning (and sites[].error in JSON) while the others are read. No message found: exit 5.`
  static override examples = [
    '<%= config.bin %> <%= command.id %> 7f3c9a52-1b2e-4c55-9d1a-0e6b8f1c2d3e',
    '<%= config.bin %> <%= command.id %> 7f3c9a52-1b2e-4c55-9d1a-0e6b8f1c2d3e --all-sites --since 2h',
    '<%= config.bin %> <%= command.id %> 7f3c9a52-1b2e-4c55-9d1a-0e6b8f1c2d3e --view timeline --site osl1 --site trd1',
    '<%= config.bin %> <%= command.id %> 7f3c9a52-1b2e-4c55-9d1a-0e6b8f1c2d3e --json',
  ]

  static override args = {
    correlation_id: Args.string({
      description: 'The workflow correlation_id, or a unique prefix of it (6 characters or more, as tail shows).',
      required: true,
    }),
  }

  static override flags = {
    ...readFlags,
    since: durationFlag({summary: 'How far back to read (default 24h; 0 reads everything).'}),
    from: Flags.string({summary: 'Read from this time (RFC 3339).', exclusive: ['since']}),
    to: Flags.string({summary: 'Read up to this time (RFC 3339).', exclusive: ['since']}),
    view: Flags.string({summary: 'How to show the messages.', options: ['tree', 'timeline'], default: 'tree'}),
    follow: Flags.boolean({
      char: 'f',
      summary: 'Keep the tree growing as new messages arrive (Ctrl-C to stop); NDJSON with --json.',
      exclusive: ['to'],
    }),
  }

  protected override streamsNdjson(): boolean {
    return Boolean(this.flags?.follow)
  }

  async run(): Promise<WorkflowResult | void> {
    const window = resolveWindow(this.flags)
    const fan = await this.connectMany({allSites: this.flags['all-sites']})
    // The 8-character id tail prints (any unique prefix of 6 or more) names the workflow it starts.
    const {resolveIdPrefix} = await import('../../lib/ids.js')
    const correlationId = await resolveIdPrefix(fan.connections, 'correlation', this.args.correlation_id, window)
    if (this.flags.follow) return this.follow(fan, window, correlationId)
    const [{readWorkflow}, {renderWorkflow}] = await Promise.all([
      import('../../lib/workflow/read.js'),
      import('../../lib/render/workflow.js'),
    ])
    const result = await readWorkflow(fan.connections, {
      correlationId,
      window,
      unreachable: fan.sites,
    })
    // Sites reached but not fully read (a server that stopped answering): 68 when others were, else 4.
    const {siteReadOutcome} = await import('../../cli/site-reads.js')
    const code = siteReadOutcome(result.sites, fan)
    if (result.messages.length === 0 && code === ExitCode.ok) {
      throw notFound(
        `No message with correlation_id ${correlationId} on ${result.sites.map((s) => s.site).join(', ')}` +
          (window.from ? ` since ${window.from.toISOString()}` : ''),
        'workflow-not-found',
        'Check the id, widen the window with --since (e.g. --since 7d), or read more sites with --all-sites.',
      )
    }
    if (!this.jsonEnabled()) renderWorkflow(this.term, result, this.flags.view as WorkflowView)
    return this.exitWith(result, code)
  }

  /** --follow: the history, then each new message, until Ctrl-C (exit 130). */
  private async follow(fan: FanOut, window: ScanWindow, correlationId: string): Promise<void> {
    const [{followWorkflow}, {LiveWorkflow, renderWorkflowFollow}] = await Promise.all([
      import('../../lib/workflow/follow.js'),
      import('../../lib/render/workflow.js'),
    ])
    // The reader going away (`| head`) ends the follow as Ctrl-C does, with exit 0.
    const closed = this.io.closed()
    const events = followWorkflow(fan.connections, {
      correlationId,
      window,
      unreachable: fan.sites,
      signal: AbortSignal.any([this.signal, closed]),
    })
    const view = this.flags.view as WorkflowView
    // On a terminal a full-screen view redrawn in place; otherwise one line per message.
    const live =
      this.term.stdoutTTY && !this.jsonEnabled()
        ? new LiveWorkflow(view, {
            correlationId,
            sites: fan.connections.map((c) => c.site.name),
          })
        : undefined
    live?.start()
    try {
      for await (const event of events) {
        if (live) live.show(event)
        else renderWorkflowFollow(this.term, event, view)
        await this.io.writable()
      }
    } finally {
      live?.stop()
    }
    if (closed.aborted) return
    if (this.interrupted) throw new ResultExit(ExitCode.interrupted)
  }
}
