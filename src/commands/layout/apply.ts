import {Args, Flags} from '@oclif/core'

import {BaseCommand} from '../../cli/base-command.js'
import {ExitCode} from '../../lib/exit-codes.js'
import type {LayoutResult} from '../../lib/layout/apply.js'

export default class LayoutApply extends BaseCommand<typeof LayoutApply> {
  static override summary = 'Create and update streams, consumers and KV buckets on a site to match a layout.'
  static override description =
    'Plans as `layout plan` does, shows the plan and asks before changing anything (--yes answers; without a terminal and without --yes it refuses with exit 6). Changes the server cannot make in place (storage, retention, consumer ack policy, ...) need --allow-recreate, because recreating a stream deletes its messages. Live objects not in the layout are deleted only with --prune, and only those dvctl created for this layout (marked in their metadata, or their description on nats-server 2.9; `layout adopt` marks older ones): never foreign streams, server-owned consumers or the dead-letter ledger. A second apply reports no changes. When the site is lost half-way, the result lists what was done, what failed and what was not attempted (exit 68); running the apply again finishes the rest.'
  static override examples = [
    '<%= config.bin %> <%= command.id %> --yes',
    '<%= config.bin %> <%= command.id %> layout.yaml --site trd1',
    '<%= config.bin %> <%= command.id %> layout.yaml --prune --allow-recreate --yes --json',
  ]
  static override args = {
    file: Args.string({description: 'Layout file (YAML or JSON); the built-in dataverket layout when absent.'}),
  }
  static override flags = {
    yes: Flags.boolean({char: 'y', summary: 'Apply without asking.'}),
    'dry-run': Flags.boolean({summary: 'Show the plan and change nothing (as `layout plan`).'}),
    prune: Flags.boolean({
      summary:
        'Delete live streams, consumers and buckets that dvctl created for this layout and it no longer declares.',
    }),
    'allow-recreate': Flags.boolean({
      summary: 'Allow changes that delete and create a stream or consumer again (a stream loses its messages).',
    }),
  }

  async run(): Promise<LayoutResult> {
    const [{loadLayout}, {requireLayoutName}, {hasChanges, summarisePlan}] = await Promise.all([
      import('../../lib/layout/load.js'),
      import('../../lib/layout/ownership.js'),
      import('../../lib/layout/plan.js'),
    ])
    const layout = await loadLayout(this.args.file)
    if (this.flags.prune) requireLayoutName(layout, '--prune')
    const conn = await this.connectOne()
    const {applyPlan, planSite, recreateRefused, unapplied} = await import('../../lib/layout/apply.js')
    const {renderApplied, renderPlan} = await import('../../lib/render/layout.js')
    const {declared, plan} = await planSite(conn, layout, {prune: this.flags.prune})
    const planned = unapplied(plan)
    if (!hasChanges(plan)) {
      const result = {...planned, applied: true}
      if (!this.jsonEnabled()) renderPlan(this.term, result)
      return result
    }
    if (!this.jsonEnabled()) renderPlan(this.term, planned)
    if (this.flags['dry-run']) return planned
    const recreates = plan.changes.filter((c) => c.action === 'recreate')
    if (recreates.length && !this.flags['allow-recreate']) throw recreateRefused(recreates)

    const s = summarisePlan(plan.changes)
    const {confirmOrRefuse} = await import('../../lib/render/prompt.js')
    const danger = s.recreate || s.delete ? ' Recreated and deleted streams lose their messages.' : ''
    await confirmOrRefuse(this.term, `Apply ${s.create + s.update + s.recreate + s.delete} change(s)`, {
      yes: this.flags.yes,
      target: {site: conn.site.name, url: conn.url},
      warning: danger.trim(),
    })

    const result = await applyPlan(conn, declared, plan, {
      allowRecreate: this.flags['allow-recreate'],
      signal: this.signal,
    })
    if (!this.jsonEnabled()) renderApplied(result, {site: conn.site.name, url: conn.url})
    // Interrupted: what was done and what was not is in the result; running the apply again finishes it.
    if (this.interrupted) return this.exitWith(result, ExitCode.interrupted)
    const partial = result.failed.length || result.not_attempted.length
    return this.exitWith(result, partial ? ExitCode.partial : ExitCode.ok)
  }
}
