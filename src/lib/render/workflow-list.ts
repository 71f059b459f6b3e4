import chalk from 'chalk'

import {compareText} from '../order.js'
import type {WorkflowCountResult, WorkflowListResult, WorkflowSummary} from '../workflow/list.js'
import {renderListing, type Listing} from './listing.js'
import {err, formatTime, table, type Terminal} from './terminal.js'
import {field} from './text.js'

const statusColour: Record<string, (s: string) => string> = {
  succeeded: chalk.green,
  running: chalk.blue,
  stalled: chalk.yellow,
  failed: chalk.red,
  'dead-lettered': chalk.red.bold,
}

/** `2 succeeded, 1 failed`: how many tasks are in each state, largest first; `-` without tasks. */
export function taskSummary(tasks: Record<string, number>): string {
  const entries = Object.entries(tasks).sort((a, b) => b[1] - a[1] || compareText(a[0], b[0]))
  return entries.length ? entries.map(([state, n]) => `${n} ${field(state)}`).join(', ') : '-'
}

const total = (tasks: Record<string, number>) => Object.values(tasks).reduce((n, c) => n + c, 0)

/**
 * `workflow list`'s columns. At 80 columns: correlation (its first characters, as many as its header),
 * status, root (the type of the message that started it), first and last (ages on a terminal), tasks and
 * dead letters; tenant, sites, messages and services join them as the window allows, with `--wide`, and
 * always when piped.
 */
export const WORKFLOW_LISTING: Listing<WorkflowSummary> = [
  {name: 'correlation', fit: 'id', min: 11, cell: (w) => field(w.correlation_id)},
  {
    name: 'status',
    fit: 'fixed',
    cell: (w) => (statusColour[w.status] ?? chalk.red)(field(w.status)),
  },
  {name: 'root', min: 16, cell: (w) => (w.root ? field(w.root.type ?? w.root.subject) : '-')},
  {name: 'tenant', optional: true, cell: (w) => field(w.tenant_id ?? '-')},
  {name: 'first', fit: 'fixed', cell: (w, term) => formatTime(term, w.first), sortBy: (w) => Date.parse(w.first)},
  {name: 'last', fit: 'fixed', cell: (w, term) => formatTime(term, w.last), sortBy: (w) => Date.parse(w.last)},
  {name: 'sites', optional: true, cell: (w) => w.sites.map((s) => field(s)).join(',')},
  {name: 'tasks', min: 12, cell: (w) => taskSummary(w.tasks), sortBy: (w) => total(w.tasks)},
  {name: 'dead', fit: 'fixed', align: 'right', cell: (w) => w.dead_letters, sortBy: (w) => w.dead_letters},
  {name: 'messages', fit: 'fixed', align: 'right', optional: true, cell: (w) => w.messages, sortBy: (w) => w.messages},
  {name: 'services', optional: true, cell: (w) => w.services.map((s) => field(s)).join(',') || '-'},
]

/** The warning when --max-workflows was reached: what is missing and what to do. */
export function truncationWarning(result: Pick<WorkflowListResult, 'truncated'>): string | undefined {
  const t = result.truncated
  if (!t) return undefined
  return (
    `stopped tracking new workflows at ${t.max_workflows.toLocaleString('en-US')} (--max-workflows): ` +
    `${t.untracked_messages.toLocaleString('en-US')} message(s) of later workflows were not counted. ` +
    'Narrow --since/--until, or raise --max-workflows (each workflow takes about 1 KiB of memory).'
  )
}

/** `workflow list`: one row per workflow; the count on stderr (terminal only). */
export async function renderWorkflowList(term: Terminal, result: WorkflowListResult): Promise<void> {
  if (result.workflows.length === 0) {
    err('No workflow matches.')
    return
  }
  await renderListing(term, WORKFLOW_LISTING, result.workflows)
  if (term.stdoutTTY) {
    const shown = result.workflows.length
    err(`${shown < result.total ? `${shown} of ` : ''}${result.total} workflow(s); ${result.seen} in the window`)
  }
}

/** `workflow count`: the total, or one row per group with `--group-by` (largest first). */
export async function renderWorkflowCount(term: Terminal, result: WorkflowCountResult): Promise<void> {
  if (!result.group_by) {
    await table(term, [{header: 'workflows', fit: 'fixed', align: 'right'}], [[result.total]])
    return
  }
  await table(
    term,
    [
      {header: result.group_by, min: 12},
      {header: 'count', fit: 'fixed', align: 'right'},
    ],
    result.groups.map((g) => [field(g.key), g.count]),
  )
  if (term.stdoutTTY) err(`${result.total} workflow(s)`)
}
