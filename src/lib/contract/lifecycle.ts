import {z} from 'zod'

import {problem, type Problem} from './problems.js'
import {isTaskVerb, isTerminalTaskState, TASK_VERBS, type TaskVerb} from './services.js'
import {TOKEN} from './taxonomy.js'

/**
 * The task lifecycle of docs/contract.md:
 *
 *   created -> queued -> started -> progress* -> succeeded | failed | cancelled
 *
 * `cancelled` may follow any non-terminal state; nothing may follow a terminal state.
 */
export type TaskState = TaskVerb

/** Position of each state on the lifecycle; terminal states share the last rank. */
const RANK: Record<TaskState, number> = {
  created: 0,
  queued: 1,
  started: 2,
  progress: 3,
  succeeded: 4,
  failed: 4,
  cancelled: 4,
}

export interface TaskTransition {
  /** The state after the event; undefined only when the first event seen has an unknown verb. */
  state: TaskState | undefined
  /** Set when the event breaks the lifecycle (after a terminal state, backwards, unknown verb). */
  illegal?: Problem
  /** The same state again: a redelivery (at-least-once, ADR "Reliability model"), not an error. */
  duplicate?: boolean
}

/**
 * Applies one task event to a task's state. Never throws.
 *
 * - The first event seen may be any verb: a watcher can start in the middle of a task's life.
 * - A task may skip ahead (a worker need not emit `queued` or `progress`), but never move back.
 * - The same state again is a duplicate delivery, tolerated (ADR "Ordering model"), except that
 *   `progress` repeats by design and is not flagged as a duplicate.
 * - Anything after succeeded/failed/cancelled other than the same terminal state is illegal.
 */
export function applyTaskEvent(previous: TaskState | undefined, verb: string): TaskTransition {
  if (!isTaskVerb(verb)) {
    return {
      state: previous,
      illegal: problem(
        '$.type',
        'unknown-task-verb',
        `"${verb}" is not a task verb (${TASK_VERBS.join(', ')}); the state stays ${previous ?? 'unknown'}.`,
      ),
    }
  }
  if (previous === undefined) return {state: verb}
  if (verb === previous) return verb === 'progress' ? {state: verb} : {state: verb, duplicate: true}
  if (isTerminalTaskState(previous)) {
    return {
      state: previous,
      illegal: problem(
        '$.type',
        'illegal-transition',
        `Task already ${previous}; "${verb}" cannot follow a terminal state.`,
      ),
    }
  }
  if (verb !== 'cancelled' && RANK[verb] < RANK[previous]) {
    return {
      state: previous,
      illegal: problem(
        '$.type',
        'illegal-transition',
        `"${verb}" cannot follow "${previous}" (created -> queued -> started -> progress -> succeeded|failed|cancelled).`,
      ),
    }
  }
  return {state: verb}
}

/** Folds a task's events (in stream order) into its final state and every illegal step. */
export function foldTaskEvents(verbs: Iterable<string>): {state: TaskState | undefined; illegal: Problem[]} {
  let state: TaskState | undefined
  const illegal: Problem[] = []
  for (const verb of verbs) {
    const next = applyTaskEvent(state, verb)
    state = next.state
    if (next.illegal) illegal.push(next.illegal)
  }
  return {state, illegal}
}

export const TaskProgress = z.object({
  percent: z.number().min(0).max(100).optional(),
  message: z.string().optional(),
})

export const TaskError = z.object({
  code: z.string().min(1),
  message: z.string(),
  retryable: z.boolean(),
})

/**
 * The `data` of every task event (`type` `task.<verb>`, docs/contract.md). `state` repeats the verb;
 * a failed task says why in `error`, so operators can see the failure beside the dead letter.
 */
export const TaskEventData = z
  .looseObject({
    task_id: z.string().min(1),
    state: z.string().regex(TOKEN),
    progress: TaskProgress.optional(),
    error: TaskError.optional(),
    result: z.unknown().optional(),
  })
  .refine((d) => d.state !== 'failed' || d.error !== undefined, {
    path: ['error'],
    message: 'A failed task must say why: error {code, message, retryable}.',
  })
export type TaskEventData = z.infer<typeof TaskEventData>
