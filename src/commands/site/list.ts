import {BaseCommand} from '../../cli/base-command.js'
import {listingFlags, listOrderFrom} from '../../cli/flags.js'
import type {SiteListResult} from '../../lib/config/sites.js'
import {orderList, sortFields} from '../../lib/render/listing.js'
import {renderSiteList, SITE_LISTING} from '../../lib/render/site.js'

export default class SiteList extends BaseCommand<typeof SiteList> {
  static override summary = 'List the sites in the config file; * marks the default.'
  static override description =
    'Reads $DVCTL_CONFIG, else $XDG_CONFIG_HOME/dvctl/config.yaml, else ~/.config/dvctl/config.yaml. Secrets are never shown: only which kind of authentication a site uses. --sort and --limit order and cut the result (--json too); piped, every column, tab-separated, without a header row (the default column is * or empty).'
  static override examples = ['<%= config.bin %> <%= command.id %>', '<%= config.bin %> <%= command.id %> --json']
  static override hiddenAliases = ['site:ls']
  static override flags = {...listingFlags(sortFields(SITE_LISTING))}

  async run(): Promise<SiteListResult> {
    const order = listOrderFrom(this.flags, sortFields(SITE_LISTING))
    const {listSites} = await import('../../lib/config/sites.js')
    const all = await listSites()
    const result: SiteListResult = {...all, sites: orderList(all.sites, SITE_LISTING, order)}
    if (!this.jsonEnabled()) await renderSiteList(this.term, result)
    return result
  }
}
