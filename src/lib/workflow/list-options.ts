/**
 * The values `workflow list` and `workflow count` take (state.ts folds the workflows). A module of its own,
 * without zod: the shared flags list them, and every command's --help loads the shared flags.
 */

/**
 * The statuses `workflow list` reports, in precedence order (docs/operations.md, "Finding workflows"): a
 * workflow is in the first that applies. `stalled` refines `running`: it needs a stall threshold, which
 * `workflow show` does not take.
 */
export const WORKFLOW_LIST_STATUSES = ['dead-lettered', 'failed', 'stalled', 'running', 'succeeded'] as const
export type WorkflowListStatus = (typeof WORKFLOW_LIST_STATUSES)[number]

/** What `workflow count --group-by` groups by. */
export const GROUP_BY_KEYS = ['status', 'service', 'tenant'] as const
export type WorkflowGroupKey = (typeof GROUP_BY_KEYS)[number]

/**
 * Workflows tracked at most by default (`--max-workflows`): each takes about 0.8 KiB of RSS while the window is
 * read, about 1.25 KiB in `workflow list`, whose result holds every one (bench/README.md, "workflow-list").
 */
export const DEFAULT_MAX_WORKFLOWS = 250_000

/** How long a started task may go without an event before its workflow is stalled (`--stalled-after`). */
export const DEFAULT_STALLED_AFTER_MS = 15 * 60_000
