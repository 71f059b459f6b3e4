import {Args, Flags} from '@oclif/core'

import {BaseCommand} from '../../cli/base-command.js'
import {ExitCode} from '../../lib/exit-codes.js'
import type {LayoutResult} from '../../lib/layout/apply.js'

export default class LayoutPlan extends BaseCommand<typeof LayoutPlan> {
  static override summary = 'Show what `layout apply` would change on a site, without changing anything.'
  static override description =
    'Compares the layout (a file, or the built-in dataverket layout) with the live streams, consumers and KV buckets of one site. Only the fields the layout sets are compared, so server defaults are not drift. "+" create, "~" update, "-/+" recreate (the server cannot change the field in place), "-" delete (only with --prune, and only objects dvctl created for this layout: see `layout adopt`). --fail-on-drift exits 10 when anything would change.'
  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> layout.yaml --site trd1',
    '<%= config.bin %> <%= command.id %> --fail-on-drift --json',
  ]
  static override args = {
    file: Args.string({description: 'Layout file (YAML or JSON); the built-in dataverket layout when absent.'}),
  }
  static override flags = {
    prune: Flags.boolean({
      summary:
        'Also plan the deletion of live streams, consumers and buckets not in the layout that dvctl created for it.',
    }),
    'fail-on-drift': Flags.boolean({summary: 'Exit 10 when the site differs from the layout.'}),
  }

  async run(): Promise<LayoutResult> {
    const [{loadLayout}, {requireLayoutName}, {hasChanges}] = await Promise.all([
      import('../../lib/layout/load.js'),
      import('../../lib/layout/ownership.js'),
      import('../../lib/layout/plan.js'),
    ])
    const layout = await loadLayout(this.args.file)
    if (this.flags.prune) requireLayoutName(layout, '--prune')
    const conn = await this.connectOne()
    const {planSite, unapplied} = await import('../../lib/layout/apply.js')
    const {plan} = await planSite(conn, layout, {prune: this.flags.prune})
    const result = unapplied(plan)
    if (!this.jsonEnabled()) {
      const {renderPlan} = await import('../../lib/render/layout.js')
      renderPlan(this.term, result)
    }
    return this.exitWith(result, this.flags['fail-on-drift'] && hasChanges(result) ? ExitCode.drift : ExitCode.ok)
  }
}
