import {Args, Flags} from '@oclif/core'

import {BaseCommand} from '../../cli/base-command.js'
import {ExitCode} from '../../lib/exit-codes.js'
import type {AdoptResult} from '../../lib/layout/adopt.js'

export default class LayoutAdopt extends BaseCommand<typeof LayoutAdopt> {
  static override summary = "Mark a site's existing streams, consumers and KV buckets as created for a layout."
  static override description =
    '`layout apply --prune` deletes only objects dvctl created for the layout (marked in their metadata, or their description on nats-server 2.9). Objects created before dvctl marked them, or by hand, are claimed here: every live object whose name the layout declares gets the mark, and nothing else about it changes. Objects marked for another layout and server-owned ones are left alone. Asks first (--yes answers; without a terminal and without --yes it refuses with exit 6).'
  static override examples = [
    '<%= config.bin %> <%= command.id %> --dry-run',
    '<%= config.bin %> <%= command.id %> layout.yaml --site trd1 --yes',
    '<%= config.bin %> <%= command.id %> --yes --json',
  ]
  static override args = {
    file: Args.string({description: 'Layout file (YAML or JSON); the built-in dataverket layout when absent.'}),
  }
  static override flags = {
    yes: Flags.boolean({char: 'y', summary: 'Mark without asking.'}),
    'dry-run': Flags.boolean({summary: 'List what would be marked and change nothing.'}),
  }

  async run(): Promise<AdoptResult> {
    const [{loadLayout}, {requireLayoutName}] = await Promise.all([
      import('../../lib/layout/load.js'),
      import('../../lib/layout/ownership.js'),
    ])
    const layout = await loadLayout(this.args.file)
    requireLayoutName(layout, 'layout adopt')
    const conn = await this.connectOne()
    const {adoptLayout} = await import('../../lib/layout/adopt.js')
    const {renderAdopt} = await import('../../lib/render/layout.js')
    const planned = await adoptLayout(conn, layout, {dryRun: true})
    if (this.flags['dry-run'] || !planned.adopted.length) {
      if (!this.jsonEnabled()) renderAdopt(planned, {site: conn.site.name, url: conn.url})
      return planned
    }
    if (!this.jsonEnabled()) renderAdopt(planned, {site: conn.site.name, url: conn.url})
    const {confirmOrRefuse} = await import('../../lib/render/prompt.js')
    await confirmOrRefuse(
      this.term,
      `Mark ${planned.adopted.length} object(s) as created for layout ${planned.layout}`,
      {
        yes: this.flags.yes,
        target: {site: conn.site.name, url: conn.url},
        warning: '`layout apply --prune` may then delete them when the layout no longer declares them.',
      },
    )
    const result = await adoptLayout(conn, layout)
    if (!this.jsonEnabled()) renderAdopt(result, {site: conn.site.name, url: conn.url})
    const partial = result.failed.length || result.not_attempted.length
    return this.exitWith(result, partial ? ExitCode.partial : ExitCode.ok)
  }
}
