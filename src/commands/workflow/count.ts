import {Flags} from '@oclif/core'

import {BaseCommand} from '../../cli/base-command.js'
import {readFlags, wideFlag, workflowFilterFlags, workflowFilterFrom} from '../../cli/flags.js'
import {ResultExit} from '../../lib/errors.js'
import {ExitCode} from '../../lib/exit-codes.js'
import {warn} from '../../lib/render/terminal.js'
import {truncationWarning} from '../../lib/render/workflow-list.js'
import type {WorkflowCountResult} from '../../lib/workflow/list.js'
import {GROUP_BY_KEYS, type WorkflowGroupKey} from '../../lib/workflow/list-options.js'
import {resolveSinceUntil} from '../../lib/workflow/window.js'

export default class WorkflowCount extends BaseCommand<typeof WorkflowCount> {
  static override summary = 'Count workflows by what happened to them, optionally per status, service or tenant.'
  static override description = `Reads the same streams with the same filters as workflow list (see its help for the statuses and their precedence) and prints how many workflows match.

--group-by status|service|tenant counts each workflow once, in one group: its status, the service its root was addressed to ("(no root)" when the window holds none), or its tenant_id ("(none)"). The groups add up to the total, largest first. An unreachable site is a warning (exit 68) while the others are read.`
  static override examples = [
    '<%= config.bin %> <%= command.id %> --since 1h',
    '<%= config.bin %> <%= command.id %> --all-sites --group-by status',
    '<%= config.bin %> <%= command.id %> --status failed --group-by service --json',
  ]

  static override flags = {
    ...readFlags,
    ...workflowFilterFlags,
    'group-by': Flags.string({summary: 'Count per status, service or tenant.', options: [...GROUP_BY_KEYS]}),
    wide: wideFlag,
  }

  async run(): Promise<WorkflowCountResult> {
    const {flags} = this
    const window = resolveSinceUntil(flags)
    const fan = await this.connectMany({allSites: flags['all-sites']})
    const {countWorkflows} = await import('../../lib/workflow/list.js')
    const result = await countWorkflows(fan.connections, {
      window,
      filter: workflowFilterFrom(flags),
      stalledAfterMs: flags['stalled-after'],
      maxWorkflows: flags['max-workflows'],
      unreachable: fan.sites,
      signal: this.signal,
      ...(flags['group-by'] ? {groupBy: flags['group-by'] as WorkflowGroupKey} : {}),
    })
    if (this.interrupted) throw new ResultExit(ExitCode.interrupted)
    const {siteReadOutcome} = await import('../../cli/site-reads.js')
    const code = siteReadOutcome(result.sites, fan)
    const truncated = truncationWarning(result)
    if (truncated) warn(truncated)
    if (!this.jsonEnabled()) {
      const {renderWorkflowCount} = await import('../../lib/render/workflow-list.js')
      await renderWorkflowCount(this.term, result)
    }
    return this.exitWith(result, code)
  }
}
