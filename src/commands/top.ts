import {BaseCommand} from '../cli/base-command.js'
import {constantHelp, durationFlag, readFlags} from '../cli/flags.js'
import {ResultExit, usageError} from '../lib/errors.js'
import {ExitCode} from '../lib/exit-codes.js'
import type {SiteConnection} from '../lib/nats/connection.js'
import type {SiteStatus} from '../lib/nats/fanout.js'

export default class Top extends BaseCommand<typeof Top> {
  static override summary =
    'Live full-screen view of sites: dead letters, consumers, tasks, stalled tasks, source lag (q to quit).'
  static override description = `Shows, for each selected site (the default site, --site repeated, or --all-sites), refreshed every --interval in place on the whole terminal: the pending dead letters (newest first, the ones that arrived since top started marked new), each service consumer with its pending, ack-pending and redelivered counts, tasks by state and the stalled ones (started, no progress for longer than --stalled-task), and every cross-site source with its lag. An unreachable site is shown as down; the others go on.

Keys: tab, shift-tab, left/right or 1..9 switch the site; up/down select a dead letter or a stalled task; enter opens the selected dead letter (what dlq show prints) or the stalled task's workflow (what workflow show prints); w opens the selected item's workflow; r refreshes now; q or Ctrl-C quits (exit 0) and gives the terminal back as it was. An opened item is shown in $PAGER, else in less -R, else in a view of its own (up/down, space, q to go back).

It needs a terminal on stdin and stdout: otherwise (piped, in a script, with --json) it refuses with exit 2; use dvctl check --format json for the same facts in a script.`
  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --all-sites',
    '<%= config.bin %> <%= command.id %> --site osl1 --site trd1 --interval 5s',
  ]

  static override flags = {
    ...readFlags,
    interval: durationFlag({
      summary: 'How often every site is read again.',
      default: 2000,
      defaultHelp: constantHelp('2s'),
    }),
    'stalled-task': durationFlag({
      summary: 'A running task without an event for longer than this is shown as stalled (default 5m).',
    }),
  }

  async run(): Promise<void> {
    if (this.jsonEnabled() || !this.io.stdoutTTY || !this.io.stdinTTY) {
      throw usageError(
        'dvctl top is a full-screen view and needs a terminal on stdin and stdout.',
        'not-a-terminal',
        'In a script or a pipe, use dvctl check --format json (the same facts, once, as JSON).',
      )
    }
    if (this.flags.interval < 200) throw usageError('--interval must be at least 200ms.', 'bad-interval')
    const targets = await this.siteTargets({allSites: this.flags['all-sites']})
    const [{HealthMonitor}, {attemptSites}, {openTopItem}, {runPager}] = await Promise.all([
      import('../lib/health/monitor.js'),
      import('../lib/nats/fanout.js'),
      import('../lib/render/top-open.js'),
      import('../lib/render/pager.js'),
    ])
    // The snapshots of check and metrics serve, round after round (a site down is dialled again each round).
    const monitor = new HealthMonitor(targets, {
      timeoutMs: this.flags.timeout,
      stalledTaskMs: this.flags['stalled-task'],
    })
    // Opening an item reads with connections of its own, made on the first open.
    let opened: Promise<{connections: SiteConnection[]; sites: SiteStatus[]}> | undefined
    const openConnections = () =>
      (opened ??= attemptSites(targets, {timeoutMs: this.flags.timeout}).then((attempts) => ({
        connections: attempts.flatMap((a) => (a.conn ? [this.adopt(a.conn)] : [])),
        sites: attempts.map((a) => ({site: a.target.name, url: a.url, ...(a.error ? {error: a.error.message} : {})})),
      })))
    const {runTop} = await loadTopApp()
    try {
      await runTop({
        sites: targets.map((t) => t.name),
        intervalMs: this.flags.interval,
        collect: async () => (await monitor.round()).map((m) => m.snapshot),
        open: async (item, as, size) =>
          openTopItem(item, as, {...(await openConnections()), env: this.env, color: this.term.color}, size),
        page: (text) => runPager(text, this.env),
        signal: this.signal,
        stdin: process.stdin,
        stdout: process.stdout,
      })
    } finally {
      await monitor.close()
      // A dial to a site that does not answer may still be under way (bounded by --timeout): the user asked
      // to quit now, so it does not keep the process alive.
      setTimeout(() => process.exit(), 500).unref()
    }
    // q and Ctrl-C (a key in raw mode) end with 0; a signal from outside as every command does.
    if (this.interrupted) throw new ResultExit(ExitCode.interrupted)
  }
}

/**
 * The Ink app, loaded only now (start-up time of every other command). Ink renders nothing live when it
 * believes it runs in CI (the CI or CONTINUOUS_INTEGRATION variable, read once when it is loaded); top
 * runs only on a terminal, where a live view is what the user asked for, so Ink is loaded without them.
 */
async function loadTopApp(): Promise<typeof import('../lib/render/top-app.js')> {
  const saved = {CI: process.env.CI, CONTINUOUS_INTEGRATION: process.env.CONTINUOUS_INTEGRATION}
  delete process.env.CI
  delete process.env.CONTINUOUS_INTEGRATION
  try {
    return await import('../lib/render/top-app.js')
  } finally {
    for (const [name, value] of Object.entries(saved)) if (value !== undefined) process.env[name] = value
  }
}
