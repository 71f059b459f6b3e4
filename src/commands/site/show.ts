import {Args} from '@oclif/core'

import {BaseCommand} from '../../cli/base-command.js'
import type {SiteShowResult} from '../../lib/config/sites.js'
import {renderSiteShow} from '../../lib/render/site.js'

export default class SiteShow extends BaseCommand<typeof SiteShow> {
  static override summary = "Show one site's settings (file paths of secrets, never their contents)."
  static override description = 'Exit 5 when the config has no such site.'
  static override examples = [
    '<%= config.bin %> <%= command.id %> osl1',
    '<%= config.bin %> <%= command.id %> osl1 --json',
  ]
  static override args = {name: Args.string({description: 'Site name.', required: true})}

  async run(): Promise<SiteShowResult> {
    const {showSite} = await import('../../lib/config/sites.js')
    const result = await showSite({name: this.args.name})
    if (!this.jsonEnabled()) renderSiteShow(result)
    return result
  }
}
