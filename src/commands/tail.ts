import {Flags} from '@oclif/core'

import {BaseCommand} from '../cli/base-command.js'
import {durationFlag, readFlags} from '../cli/flags.js'
import {TYPE_PATTERN_HELP} from '../lib/contract/match.js'
import {ResultExit, usageError, UserError} from '../lib/errors.js'
import {ExitCode} from '../lib/exit-codes.js'
import {resolveWindow} from '../lib/workflow/window.js'

export default class Tail extends BaseCommand<typeof Tail> {
  static override summary = 'Print messages of the control plane, one a line: history, then live with --follow.'
  static override description = `Reads DV_CMD, DV_EVT and DV_TASK of each selected site (--site repeated, or --all-sites) and prints one line per message: time, site, subject, type, short id, correlation and a summary of data. With --json, one JSON object per line: {site, stream, seq, subject, time, envelope}, or {site, stream, seq, subject, time, invalid: true, problems, raw} for a message that is not valid JSON or breaks the contract (the tail goes on).

History (--since, default 24h, or --from/--to) is merged across streams and sites in time order. With --follow the tail then stays live, in arrival order; without --since, --follow shows only new messages. A site that drops is reported on stderr and resumes from the last message seen, without repeats or gaps. dv.rpc.* is not stored, so --family rpc needs --follow.`
  static override examples = [
    '<%= config.bin %> <%= command.id %> --correlation 7f3c9a52-1b2e-4c55-9d1a-0e6b8f1c2d3e',
    '<%= config.bin %> <%= command.id %> --follow --all-sites',
    '<%= config.bin %> <%= command.id %> --subject "dv.maskin.>" --since 1h',
    '<%= config.bin %> <%= command.id %> --family task --type task.failed --tenant acme --since 7d --json',
  ]

  protected override streamsNdjson(): boolean {
    return true
  }

  static override flags = {
    ...readFlags,
    correlation: Flags.string({
      summary: 'Only messages of this correlation_id (a workflow), or a unique prefix of 6+ characters.',
    }),
    subject: Flags.string({summary: 'Only subjects matching this NATS filter (dv.maskin.>, dv.*.cmd.provision).'}),
    family: Flags.string({summary: 'Only this subject family.', options: ['cmd', 'evt', 'task', 'rpc']}),
    service: Flags.string({summary: 'Only this service (subject token, or source for task events).'}),
    type: Flags.string({summary: TYPE_PATTERN_HELP}),
    tenant: Flags.string({summary: 'Only this tenant_id.'}),
    since: durationFlag({summary: 'How far back to read (default 24h; with --follow, default none).'}),
    from: Flags.string({summary: 'Read from this time (RFC 3339).', exclusive: ['since']}),
    to: Flags.string({summary: 'Read up to this time (RFC 3339); not with --follow.', exclusive: ['since', 'follow']}),
    follow: Flags.boolean({char: 'f', summary: 'Keep printing new messages as they arrive (Ctrl-C to stop).'}),
    headers: Flags.boolean({summary: 'Show the NATS headers of each message.'}),
  }

  async run(): Promise<void> {
    const {flags} = this
    if (flags.subject) {
      const {parseSubject} = await import('../lib/contract/taxonomy.js')
      const analysis = parseSubject(flags.subject, {allowWildcards: true})
      if (!analysis.valid && flags.subject !== '>') {
        throw usageError(
          `Invalid subject filter "${flags.subject}": ${analysis.problems.map((p) => p.message).join('; ')}`,
          'invalid-subject',
          'Use a filter inside the taxonomy, like dv.maskin.> or dv.*.cmd.provision.',
        )
      }
    }
    const history = !flags.follow || flags.since !== undefined || flags.from !== undefined
    const window = history ? resolveWindow(flags) : {}
    // Asked before connecting: an idle live view learns that its pipe's reader left by watching it, and
    // the watch must see the reader once first (output.ts), before a quick `| head -1` has gone.
    const closed = this.io.closed()
    const fan = await this.connectMany({allSites: flags['all-sites']})

    const [{tailMessages}, {renderTailEvent}, {resolveIdPrefix}] = await Promise.all([
      import('../lib/workflow/tail.js'),
      import('../lib/render/tail.js'),
      import('../lib/ids.js'),
    ])
    // The reader going away (`| head`) stops the reading at once, as Ctrl-C does, but ends with exit 0.
    const stop = AbortSignal.any([this.signal, closed])
    // Each site's first error, said once: as a warning when other sites are still read, else as the error.
    const failedSites = new Map<string, {error: string; code?: string}>()
    const events = tailMessages(fan.connections, {
      filter: {
        correlationId:
          flags.correlation && (await resolveIdPrefix(fan.connections, 'correlation', flags.correlation, window)),
        subject: flags.subject,
        family: flags.family as 'cmd' | 'evt' | 'task' | 'rpc' | undefined,
        service: flags.service,
        type: flags.type,
        tenant: flags.tenant,
      },
      window,
      history,
      follow: flags.follow,
      headers: flags.headers,
      signal: stop,
    })
    for await (const event of events) {
      if (event.kind === 'site-error') {
        if (failedSites.has(event.site)) continue
        failedSites.set(event.site, event)
        if (fan.connections.length === 1) continue
      }
      renderTailEvent(this.term, event, {headers: flags.headers, follow: flags.follow})
      // Backpressure: no more is read than the output takes.
      await this.io.writable()
    }
    if (closed.aborted) return
    if (this.interrupted) throw new ResultExit(ExitCode.interrupted)
    // A site that could not be read (the reason is on stderr): 68 when others were, else 4.
    if (failedSites.size > 0) {
      const answered = fan.connections.some((c) => !failedSites.has(c.site.name))
      if (answered) throw new ResultExit(ExitCode.partial)
      const failures = [...failedSites]
      const code = failures[0][1].code ?? 'site-unavailable'
      const {natsHint} = await import('../lib/nats/errors.js')
      throw new UserError(
        failures.length === 1
          ? `Site ${failures[0][0]}: ${failures[0][1].error}`
          : `No site could be read: ${failures.map(([site, f]) => `${site}: ${f.error}`).join('; ')}`,
        {code, exitCode: ExitCode.unavailable, hint: natsHint(code)},
      )
    }
  }
}
