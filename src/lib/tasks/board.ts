import {z} from 'zod'

import {applyTaskEvent, type TaskState} from '../contract/lifecycle.js'
import type {Problem} from '../contract/problems.js'
import {isTerminalTaskState} from '../contract/services.js'
import {path, prop} from '../value.js'

/** The latest known state of one task on one site (`task list`, the rows of `task watch`). */
export const TaskRecordSchema = z.object({
  site: z.string(),
  task_id: z.string(),
  /** The service reporting the task: the envelope `source` of its events. */
  service: z.string().nullable(),
  /** The last legal state; `unknown` when the only events seen had unknown verbs. */
  state: z.string(),
  /** The verb of the last event seen, legal or not. */
  last_verb: z.string(),
  progress: z.object({percent: z.number().optional(), message: z.string().optional()}).nullable(),
  error: z.object({code: z.string(), message: z.string(), retryable: z.boolean().optional()}).nullable(),
  result: z.unknown().optional(),
  correlation_id: z.string().nullable(),
  tenant_id: z.string().nullable(),
  created_at: z.string(),
  updated_at: z.string(),
  events: z.number(),
  illegal_transitions: z.number(),
})
export type TaskRecord = z.infer<typeof TaskRecordSchema>

/** The fields of a task event's envelope the board reads; anything else is ignored. */
export interface TaskEventInput {
  site: string
  /** NATS subject, `dv.task.evt.<verb>`: the verb is its last token. */
  subject: string
  time: string
  envelope: {
    source?: unknown
    subject?: unknown
    correlation_id?: unknown
    tenant_id?: unknown
    data?: unknown
  }
}

/** What one event did to its task. */
export interface TaskUpdate {
  task: TaskRecord
  verb: string
  time: string
  previous: string | undefined
  /** The event broke the lifecycle (after a terminal state, backwards, unknown verb): shown, never fatal. */
  illegal?: Problem
  duplicate?: boolean
}

/** Where the watched tasks stand as a whole: decides the exit code of `--until-done` and `--wait`. */
export type BoardOutcome = 'empty' | 'running' | 'succeeded' | 'failed'

const str = (v: unknown) => (typeof v === 'string' && v ? v : null)

const TASK_SUBJECT = /^dv\.task\.evt\.([^.]+)$/

/**
 * The lifecycle verb of a task event: the last token of its NATS subject `dv.task.evt.<verb>`, the token
 * the streams and filters route on (`data.state` and `type` only repeat it). Null for any other subject.
 */
export function taskEventVerb(subject: string): string | null {
  return TASK_SUBJECT.exec(subject)?.[1] ?? null
}

/** The task an event is about: `data.task_id`, else the envelope `subject` (the task id); null when neither. */
export function taskIdOf(envelope: unknown): string | null {
  return str(path(envelope, 'data', 'task_id')) ?? str(prop(envelope, 'subject'))
}

export interface TaskBoardOptions {
  /**
   * One task per task id whichever site reported it (`workflow show`, whose messages are already
   * de-duplicated across sites). By default a task is per site and task id (`task watch`, `task list`).
   */
  acrossSites?: boolean
  /** Do not keep each task's `result` (a long-running follower that only counts states: bounded memory). */
  withoutResults?: boolean
}

/**
 * The one place task events become task states (`task watch`, `task list`, `publish --wait` and
 * `workflow show` all fold through it): events in stream order, from any number of sites, folded into the
 * latest state of each task, with the lifecycle (src/lib/contract/lifecycle.ts, docs/contract.md) deciding
 * what is legal. An illegal event (backwards, after a terminal state, unknown verb) is counted and shown,
 * but never changes the state.
 */
export class TaskBoard {
  private readonly byKey = new Map<string, TaskRecord>()

  constructor(private readonly options: TaskBoardOptions = {}) {}

  /** Applies one task event; undefined when the event names no task (no `data.task_id` nor envelope subject). */
  apply(event: TaskEventInput): TaskUpdate | undefined {
    // Fields are read through their descriptors (value.ts): whatever the event holds, the board never throws.
    const envelope = (field: string) => prop(event.envelope, field)
    const data = (field: string) => prop(prop(event.envelope, 'data'), field)
    const taskId = taskIdOf(event.envelope)
    if (!taskId) return undefined
    const verb = taskEventVerb(event.subject) ?? event.subject.split('.').at(-1) ?? ''
    const key = this.options.acrossSites ? taskId : `${event.site}\u0000${taskId}`
    const existing = this.byKey.get(key)
    const previousState = existing?.state
    const previous = existing && existing.state !== 'unknown' ? (existing.state as TaskState) : undefined
    const transition = applyTaskEvent(previous, verb)
    const task: TaskRecord = existing ?? {
      site: event.site,
      task_id: taskId,
      service: str(envelope('source')),
      state: 'unknown',
      last_verb: verb,
      progress: null,
      error: null,
      correlation_id: str(envelope('correlation_id')),
      tenant_id: str(envelope('tenant_id')),
      created_at: event.time,
      updated_at: event.time,
      events: 0,
      illegal_transitions: 0,
    }
    task.events++
    task.last_verb = verb
    task.updated_at = event.time
    if (transition.illegal) {
      task.illegal_transitions++
    } else {
      task.state = transition.state ?? task.state
      const progress = data('progress') as TaskRecord['progress'] | undefined
      if (progress && typeof progress === 'object') task.progress = progress
      const error = data('error') as TaskRecord['error'] | undefined
      if (error && typeof error === 'object') task.error = error
      const result = data('result')
      if (result !== undefined && !this.options.withoutResults) task.result = result
    }
    this.byKey.set(key, task)
    return {
      task,
      verb,
      time: event.time,
      previous: previousState,
      ...(transition.illegal ? {illegal: transition.illegal} : {}),
      ...(transition.duplicate ? {duplicate: true} : {}),
    }
  }

  tasks(): TaskRecord[] {
    return [...this.byKey.values()]
  }

  get size(): number {
    return this.byKey.size
  }

  /** Drops the tasks `drop` selects (a long-running follower forgets tasks whose events aged out); returns how many. */
  forget(drop: (task: TaskRecord) => boolean): number {
    let dropped = 0
    for (const [key, task] of this.byKey) {
      if (!drop(task)) continue
      this.byKey.delete(key)
      dropped++
    }
    return dropped
  }

  /**
   * `empty` before any task is seen; `running` while one is not terminal; then `failed` when any failed or
   * was cancelled, else `succeeded`.
   */
  outcome(): BoardOutcome {
    const tasks = this.tasks()
    if (tasks.length === 0) return 'empty'
    if (tasks.some((t) => !isTerminalTaskState(t.state))) return 'running'
    return tasks.some((t) => t.state !== 'succeeded') ? 'failed' : 'succeeded'
  }
}

/** The states in which a task is running: started, and reporting progress. */
export const RUNNING_TASK_STATES: readonly string[] = ['started', 'progress']

/**
 * A task is stalled when it is running (started, or reporting progress) and its last event is older than
 * `afterMs`: it started and stopped progressing (`check --stalled-task`, `metrics serve`, `top`).
 */
export function isStalledTask(task: TaskRecord, now: Date, afterMs: number): boolean {
  return RUNNING_TASK_STATES.includes(task.state) && now.getTime() - Date.parse(task.updated_at) > afterMs
}
