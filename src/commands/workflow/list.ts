import {BaseCommand} from '../../cli/base-command.js'
import {listingFlags, listOrderFrom, readFlags, workflowFilterFlags, workflowFilterFrom} from '../../cli/flags.js'
import {ResultExit} from '../../lib/errors.js'
import {ExitCode} from '../../lib/exit-codes.js'
import {orderList, sortFields} from '../../lib/render/listing.js'
import {warn} from '../../lib/render/terminal.js'
import {truncationWarning, WORKFLOW_LISTING} from '../../lib/render/workflow-list.js'
import type {WorkflowListResult} from '../../lib/workflow/list.js'
import {resolveSinceUntil} from '../../lib/workflow/window.js'

export default class WorkflowList extends BaseCommand<typeof WorkflowList> {
  static override summary = 'List workflows (one line per correlation_id) by what happened to them.'
  static override description = `Reads DV_DLQ, then DV_CMD, DV_EVT and DV_TASK of each selected site (--site repeated, or --all-sites) within --since (default 24h) and --until, once, and folds every message into its workflow with the same reducer as workflow show. One line per correlation_id: status, root (the type of its earliest message without causation_id), tenant, first and last message, sites, task states, dead letters, messages and services.

Status, in precedence order (a workflow is in the first that applies): dead-lettered (a message of it was dead-lettered), failed (a task failed or was cancelled), stalled (a task started and has had no event for longer than --stalled-after, counted back from --until or now), running, succeeded (it has tasks and all of them succeeded). --status dead_lettered is accepted for dead-lettered.

--tenant matches the workflow's tenant_id, --service any service it touched (a subject's service or an envelope source), --type the root's type. Memory grows with the number of distinct workflows in the window (about 1 KiB each), not with the number of messages; --max-workflows caps it, and a warning (and "truncated" in JSON) says how many messages of later workflows were not counted.

On a terminal the table fits the window (--wide: every column whole); piped, every column, tab-separated, without a header row. --sort and --limit order and cut the result (--json too); "total" stays the number of workflows that match. An unreachable site is a warning (exit 68) while the others are read.`
  static override examples = [
    '<%= config.bin %> <%= command.id %> --status failed --since 6h',
    '<%= config.bin %> <%= command.id %> --all-sites --status stalled --stalled-after 30m',
    '<%= config.bin %> <%= command.id %> --tenant acme --type "maskin.*" --sort -last --limit 20',
    '<%= config.bin %> <%= command.id %> --status dead_lettered --json',
  ]

  static override flags = {
    ...readFlags,
    ...workflowFilterFlags,
    ...listingFlags(sortFields(WORKFLOW_LISTING)),
  }

  async run(): Promise<WorkflowListResult> {
    const {flags} = this
    const order = listOrderFrom(flags, sortFields(WORKFLOW_LISTING))
    const window = resolveSinceUntil(flags)
    const fan = await this.connectMany({allSites: flags['all-sites']})
    const {listWorkflows} = await import('../../lib/workflow/list.js')
    const all = await listWorkflows(fan.connections, {
      window,
      filter: workflowFilterFrom(flags),
      stalledAfterMs: flags['stalled-after'],
      maxWorkflows: flags['max-workflows'],
      unreachable: fan.sites,
      signal: this.signal,
    })
    if (this.interrupted) throw new ResultExit(ExitCode.interrupted)
    const {siteReadOutcome} = await import('../../cli/site-reads.js')
    const code = siteReadOutcome(all.sites, fan)
    const truncated = truncationWarning(all)
    if (truncated) warn(truncated)
    const result: WorkflowListResult = {...all, workflows: orderList(all.workflows, WORKFLOW_LISTING, order)}
    if (!this.jsonEnabled()) {
      const {renderWorkflowList} = await import('../../lib/render/workflow-list.js')
      await renderWorkflowList(this.term, result)
    }
    return this.exitWith(result, code)
  }
}
