import {BaseCommand} from '../../cli/base-command.js'
import {listSites, type SiteListResult} from '../../lib/config/sites.js'
import {renderSiteList} from '../../lib/render/site.js'

export default class SiteList extends BaseCommand<typeof SiteList> {
  static override summary = 'List the sites in the config file; * marks the default.'
  static override description =
    'Reads $DVCTL_CONFIG, else $XDG_CONFIG_HOME/dvctl/config.yaml, else ~/.config/dvctl/config.yaml. Secrets are never shown: only which kind of authentication a site uses.'
  static override examples = ['<%= config.bin %> <%= command.id %>', '<%= config.bin %> <%= command.id %> --json']
  static override hiddenAliases = ['site:ls']

  async run(): Promise<SiteListResult> {
    const result = await listSites()
    if (!this.jsonEnabled()) await renderSiteList(this.term, result)
    return result
  }
}
