import {BaseCommand} from '../../lib/base-command.js'
import {ExitCode} from '../../lib/exit-codes.js'
import {checkSite, type SiteCheckResult} from '../../lib/nats/site-check.js'
import {renderSiteChecks} from '../../lib/render/site.js'

export default class SiteCheck extends BaseCommand<typeof SiteCheck> {
  static override summary = 'Check that a site is reachable: server version, JetStream and domain, round-trip time.'
  static override description =
    'Connects to the site chosen by --server, --site, DV_SITE or NATS_URL (default nats://127.0.0.1:4222). An unreachable site is one line naming the URL and the cause, and exit 4.'
  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --server nats://127.0.0.1:4222 --json',
  ]

  async run(): Promise<SiteCheckResult> {
    const conn = await this.connectOne()
    const result = await checkSite(conn)
    if (!this.jsonEnabled()) await renderSiteChecks(this.term, [result])
    return this.exitWith(result, result.jetstream.enabled ? ExitCode.ok : ExitCode.unavailable)
  }
}
