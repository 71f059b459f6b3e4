import {Flags} from '@oclif/core'

import {BaseCommand} from '../cli/base-command.js'
import {durationFlag, readFlags, wideFlag} from '../cli/flags.js'
import {ResultExit, UserError} from '../lib/errors.js'
import type {ExitCodeValue} from '../lib/exit-codes.js'
import type {CheckResult, Thresholds} from '../lib/health/check.js'
import {plainLine} from '../lib/render/check.js'

const FORMATS = ['text', 'json', 'nagios', 'prometheus'] as const
const count = (summary: string) => Flags.integer({summary, min: 0, helpGroup: 'THRESHOLD'})
const duration = (summary: string) => durationFlag({summary, helpGroup: 'THRESHOLD'})

export default class Check extends BaseCommand<typeof Check> {
  static override summary =
    'Alerting check of sites: pending dead letters and their age, consumer lag, stalled tasks, cross-site source lag.'
  static override description = `Reads each selected site once (the default site, --site repeated, or --all-sites, concurrently) and judges what it finds against thresholds: pending dead letters (--dlq-pending-warn/-crit), the age of the oldest one (--dlq-oldest-warn/-crit), unacknowledged commands per DV_CMD consumer (--lag-warn/-crit), tasks that started and sent no event for --stalled-task (a warning), and how far each cross-site source is behind (--source-lag-warn/-crit). A count crosses a threshold when it is above it. Thresholds come from the flags, else from the site's "checks:" in the config file (dlq_pending_warn, dlq_oldest_crit: 1h, stalled_task: 10m, ...), else the defaults shown below. An unreachable site, or a stalled source (silent, in error), is critical; a part that could not be read is unknown.

--format text (default): one row per site and each finding; exit 0 when all is well, 10 when a threshold is crossed, 4 when a site or a part of it could not be read.
--format json (or --json): the result with each site's snapshot and findings, same exit codes.
--format nagios: the Nagios plugin convention, one line "DVCTL OK|WARNING|CRITICAL|UNKNOWN - summary | perfdata" and exit 0, 1, 2 or 3. This format deliberately uses the Nagios exit codes instead of dvctl's own, including 3 (UNKNOWN) for a usage or configuration error.
--format prometheus: the metrics of "dvctl metrics serve" and dvctl_check_status per site, in the Prometheus text exposition format (for node_exporter's textfile collector); exit codes as for text.`
  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --all-sites --format nagios --dlq-pending-warn 0 --dlq-pending-crit 50',
    '<%= config.bin %> <%= command.id %> --site osl1 --dlq-oldest-crit 4h --stalled-task 10m --json',
    '<%= config.bin %> <%= command.id %> --all-sites --format prometheus > /var/lib/node_exporter/dvctl.prom',
  ]
  static override flags = {
    ...readFlags,
    wide: wideFlag,
    format: Flags.string({summary: 'Output format.', options: [...FORMATS], default: 'text'}),
    'dlq-pending-warn': count('Warning above this many pending dead letters on a site (default 0: any).'),
    'dlq-pending-crit': count('Critical above this many pending dead letters on a site (default 100).'),
    'dlq-oldest-warn': duration('Warning when the oldest pending dead letter is older than this (default 1h).'),
    'dlq-oldest-crit': duration('Critical when the oldest pending dead letter is older than this (default 24h).'),
    'lag-warn': count('Warning above this many unacknowledged commands on one DV_CMD consumer (default 100).'),
    'lag-crit': count('Critical above this many unacknowledged commands on one DV_CMD consumer (default 1000).'),
    'stalled-task': duration('A running task with no event for longer than this is stalled: a warning (default 5m).'),
    'source-lag-warn': count('Warning when a cross-site source is more than this many messages behind (default 100).'),
    'source-lag-crit': count(
      'Critical when a cross-site source is more than this many messages behind (default 1000).',
    ),
  }

  /** `--format json` is `--json`: the result is printed as JSON (and errors as the JSON error object). */
  public override jsonEnabled(): boolean {
    return super.jsonEnabled() || this.formatArg() === 'json'
  }

  async run(): Promise<CheckResult> {
    const {thresholdsFor, evaluateSite, checkResult, checkExitCode, NAGIOS_EXIT} =
      await import('../lib/health/check.js')
    const {collectSnapshot, unreachableSnapshot} = await import('../lib/health/snapshot.js')
    const {attemptSites} = await import('../lib/nats/fanout.js')
    const f = this.flags
    const given: Partial<Thresholds> = {
      dlq_pending_warn: f['dlq-pending-warn'],
      dlq_pending_crit: f['dlq-pending-crit'],
      dlq_oldest_warn_ms: f['dlq-oldest-warn'],
      dlq_oldest_crit_ms: f['dlq-oldest-crit'],
      lag_warn: f['lag-warn'],
      lag_crit: f['lag-crit'],
      stalled_task_ms: f['stalled-task'],
      source_lag_warn: f['source-lag-warn'],
      source_lag_crit: f['source-lag-crit'],
    }
    const targets = await this.siteTargets({allSites: f['all-sites']})
    const attempts = await attemptSites(targets, {timeoutMs: f.timeout})
    const sites = await Promise.all(
      attempts.map(async (a) => {
        const thresholds = thresholdsFor(a.target.checks, given)
        const snapshot = a.conn
          ? await collectSnapshot(this.adopt(a.conn), {stalledTaskMs: thresholds.stalled_task_ms})
          : unreachableSnapshot(a.target.name, a.url, a.error)
        return evaluateSite(snapshot, thresholds)
      }),
    )
    const result = checkResult(sites)
    const format = this.jsonEnabled() ? 'json' : f.format
    if (format === 'nagios') {
      const {nagiosLine} = await import('../lib/render/check.js')
      this.io.write(`${nagiosLine(result)}\n`)
      throw new ResultExit(NAGIOS_EXIT[result.status] as ExitCodeValue)
    }
    if (format === 'prometheus') {
      const [{exposition}, {checkFamilies}] = await Promise.all([
        import('../lib/render/prometheus.js'),
        import('../lib/health/metrics.js'),
      ])
      this.io.write(exposition(checkFamilies(sites)))
    } else if (format === 'text') {
      const {renderCheck} = await import('../lib/render/check.js')
      await renderCheck(this.term, result)
    }
    return this.exitWith(result, checkExitCode(result))
  }

  /** Nagios reads the first line and the exit code: an error is `DVCTL UNKNOWN - ...`, exit 3. */
  protected override async catch(error: Error & {exitCode?: number}): Promise<unknown> {
    if (this.formatArg() !== 'nagios' || error instanceof ResultExit) return super.catch(error)
    const {toUserError} = await import('../cli/base-command.js')
    const userError: UserError = await toUserError(error)
    this.io.write(`DVCTL UNKNOWN - ${plainLine(userError.message)}\n`)
    return this.exit(3)
  }

  /** The --format value as given on the command line (also before or without a successful parse). */
  private formatArg(): string | undefined {
    const argv = this.argv
    for (let i = argv.length - 1; i >= 0; i--) {
      if (argv[i] === '--') continue
      if (argv[i].startsWith('--format=')) return argv[i].slice('--format='.length)
      if (argv[i] === '--format') return argv[i + 1]
    }
    return undefined
  }
}
