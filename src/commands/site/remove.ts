import {Args} from '@oclif/core'

import {BaseCommand} from '../../lib/base-command.js'
import {removeSite, type SiteChangeResult} from '../../lib/config/sites.js'
import {out} from '../../lib/render/terminal.js'

export default class SiteRemove extends BaseCommand<typeof SiteRemove> {
  static override summary = 'Remove a site from the config file (its servers and secret files are not touched).'
  static override description =
    'When the removed site was the default, no site is the default until dvctl site use NAME. Exit 5 when the config has no such site.'
  static override examples = ['<%= config.bin %> <%= command.id %> trd1']
  static override hiddenAliases = ['site:rm']
  static override args = {name: Args.string({description: 'Site name.', required: true})}

  async run(): Promise<SiteChangeResult> {
    const result = await removeSite({name: this.args.name})
    if (!this.jsonEnabled()) out(`Removed site ${result.site} from ${result.config}`)
    return result
  }
}
