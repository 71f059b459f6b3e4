import {Args} from '@oclif/core'

import {BaseCommand} from '../../cli/base-command.js'
import {readFlags, wideFlag} from '../../cli/flags.js'
import {ExitCode} from '../../lib/exit-codes.js'
import type {SiteCheckResult, SiteChecksResult} from '../../lib/nats/site-check.js'
import {renderSiteChecks} from '../../lib/render/site.js'
import {warn} from '../../lib/render/terminal.js'

export default class SiteCheck extends BaseCommand<typeof SiteCheck> {
  static override summary =
    'Check that sites are reachable: server version, JetStream (domain, API level), round-trip time.'
  static override description = `Without arguments checks the site chosen by --server, --site, DV_SITE, NATS_URL or the config's default site (else nats://127.0.0.1:4222); an unreachable site is one line naming the URL and the cause, and exit 4.

With --all-sites (or several --site) every site is checked concurrently, each bounded by --timeout, one row per site: an unreachable site is a row with connected false and its error, and a warning on stderr. The JSON result is then {sites: [...], warnings: [...]}; sites running different nats-server versions are a warning (stderr, and in warnings). The JetStream API level is shown from nats-server 2.11 on (n/a, null in JSON, before). As in doctor, the exit code is 0 only when every site is reachable with JetStream, else 4.`
  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --server nats://127.0.0.1:4222 --json',
    '<%= config.bin %> <%= command.id %> osl1',
    '<%= config.bin %> <%= command.id %> --all-sites',
  ]
  static override args = {
    name: Args.string({description: 'Site name from the config (same as --site NAME).'}),
  }
  static override flags = {...readFlags, wide: wideFlag}

  async run(): Promise<SiteCheckResult | SiteChecksResult> {
    const sites = [...(this.flags.site ?? []), ...(this.args.name ? [this.args.name] : [])]
    const allSites = Boolean(this.flags['all-sites'])
    const {checkSite, unreachableSite, versionMismatch} = await import('../../lib/nats/site-check.js')
    if (!allSites && sites.length <= 1) {
      const conn = await this.connectOne({sites})
      const result = await checkSite(conn)
      if (!this.jsonEnabled()) await renderSiteChecks(this.term, [result])
      return this.exitWith(result, result.jetstream.enabled ? ExitCode.ok : ExitCode.unavailable)
    }

    const targets = await this.siteTargets({allSites, sites})
    const {attemptSites} = await import('../../lib/nats/fanout.js')
    const attempts = await attemptSites(targets, {timeoutMs: this.flags.timeout})
    const rows = await Promise.all(
      attempts.map(async (a) => {
        if (!a.conn) {
          warn(a.error.message)
          return unreachableSite(a.target, a.url, a.error)
        }
        return checkSite(this.adopt(a.conn))
      }),
    )
    const mismatch = versionMismatch(rows)
    if (mismatch) warn(mismatch)
    const result: SiteChecksResult = {sites: rows, warnings: mismatch ? [mismatch] : []}
    if (!this.jsonEnabled()) await renderSiteChecks(this.term, rows)
    // The same rule as doctor: every site is still checked and shown, but one that is down or has no
    // JetStream makes the check fail (exit 4), so a script or an alert sees it.
    const allHealthy = rows.every((r) => r.connected && r.jetstream.enabled)
    return this.exitWith(result, allHealthy ? ExitCode.ok : ExitCode.unavailable)
  }
}
