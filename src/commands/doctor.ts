import {Flags} from '@oclif/core'

import {BaseCommand} from '../cli/base-command.js'
import {constantHelp, durationFlag, readFlags, wideFlag} from '../cli/flags.js'
import type {DoctorResult} from '../lib/doctor/check.js'

export default class Doctor extends BaseCommand<typeof Doctor> {
  static override summary =
    'Check the health of sites: reachability, JetStream, layout drift, dead-letter capture, backlogs, cross-site sources.'
  static override description = `For each selected site (the default site, --site repeated, or --all-sites, checked concurrently, each bounded by --timeout), one row of one table: reachable, server version, JetStream and its domain, drift of the live layout against the dataverket layout (or --layout FILE), whether DV_DLQ captures both dead-letter advisories, each durable consumer on DV_CMD with its pending and redelivered counts (on a terminal, the busy ones as name pending/redelivered), the pending dead letters, the oldest unacknowledged command and its age, and every stream that sources (or mirrors) another stream, with its lag and how long it has been silent. On a terminal the table fits the window (--wide: every column whole); piped, every column, tab-separated, without a header row.

Problems (listed below the table, and in the JSON per site): an unreachable site or one without JetStream (exit 4), layout drift, a missing or incomplete DV_DLQ, a source silent for longer than --stall-after, e.g. while the leaf-node link to the other site is cut, and dead letters' originals at risk: DV_CMD keeps commands for less time than DV_DLQ keeps dead letters (max_age; 0 is unlimited) while no dvctl dlq capture heartbeat is fresh (exit 10; dlq_archive in the JSON). Pending dead letters and consumer backlogs are reported as warnings (exit 0).`
  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --all-sites',
    '<%= config.bin %> <%= command.id %> --site osl1 --layout layout.yaml --json',
    '<%= config.bin %> <%= command.id %> --server nats://127.0.0.1:4222 --stall-after 30s',
  ]
  static override flags = {
    ...readFlags,
    wide: wideFlag,
    layout: Flags.string({summary: 'Layout file to check drift against (default: the built-in dataverket layout).'}),
    'stall-after': durationFlag({
      summary: 'A cross-site source silent for longer than this is reported as stalled.',
      default: 5000,
      defaultHelp: constantHelp('5s'),
    }),
  }

  async run(): Promise<DoctorResult> {
    const {loadLayout} = await import('../lib/layout/load.js')
    const layout = await loadLayout(this.flags.layout)
    const targets = await this.siteTargets({allSites: this.flags['all-sites']})
    const {attemptSites} = await import('../lib/nats/fanout.js')
    const {checkSiteHealth, doctorExitCode, unreachableDoctorSite} = await import('../lib/doctor/check.js')
    const attempts = await attemptSites(targets, {timeoutMs: this.flags.timeout})
    const sites = await Promise.all(
      attempts.map(async (a) =>
        a.conn
          ? checkSiteHealth(this.adopt(a.conn), {layout, stallAfterMs: this.flags['stall-after']})
          : unreachableDoctorSite(a.target, a.url, a.error),
      ),
    )
    const result: DoctorResult = {healthy: sites.every((s) => s.problems.length === 0), sites}
    if (!this.jsonEnabled()) {
      const {renderDoctor} = await import('../lib/render/doctor.js')
      await renderDoctor(this.term, result)
    }
    return this.exitWith(result, doctorExitCode(result))
  }
}
