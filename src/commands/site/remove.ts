import {Args} from '@oclif/core'

import {BaseCommand} from '../../cli/base-command.js'
import type {SiteChangeResult} from '../../lib/config/sites.js'
import {out, warn} from '../../lib/render/terminal.js'

export default class SiteRemove extends BaseCommand<typeof SiteRemove> {
  static override summary = 'Remove a site from the config file (its servers and secret files are not touched).'
  static override description =
    'When the removed site was the default, no site is the default until dvctl site use NAME (a warning says so, and commands then need --site). Exit 5 when the config has no such site.'
  static override examples = ['<%= config.bin %> <%= command.id %> trd1']
  static override hiddenAliases = ['site:rm']
  static override args = {name: Args.string({description: 'Site name.', required: true})}

  async run(): Promise<SiteChangeResult> {
    const {removeSite} = await import('../../lib/config/sites.js')
    const result = await removeSite({name: this.args.name})
    if (!this.jsonEnabled()) out(`Removed site ${result.site} from ${result.config}`)
    if (result.was_default) {
      const left = result.sites ?? []
      warn(
        left.length
          ? `${result.site} was the default site; now none is, and commands need --site until you choose one: dvctl site use ${left[0]} (sites: ${left.join(', ')}).`
          : `${result.site} was the default site and the last one; add a site with dvctl site add NAME --server URL.`,
      )
    }
    return result
  }
}
