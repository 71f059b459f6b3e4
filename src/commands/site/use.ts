import {Args} from '@oclif/core'

import {BaseCommand} from '../../cli/base-command.js'
import type {SiteChangeResult} from '../../lib/config/sites.js'
import {out} from '../../lib/render/terminal.js'

export default class SiteUse extends BaseCommand<typeof SiteUse> {
  static override summary = 'Make a site the default (used when no --server, --site, DV_SITE or NATS_URL is given).'
  static override description = 'Exit 5 when the config has no such site.'
  static override examples = ['<%= config.bin %> <%= command.id %> trd1']
  static override args = {name: Args.string({description: 'Site name.', required: true})}

  async run(): Promise<SiteChangeResult> {
    const {useSite} = await import('../../lib/config/sites.js')
    const result = await useSite({name: this.args.name})
    if (!this.jsonEnabled()) out(`Default site is now ${result.site} (${result.config})`)
    return result
  }
}
