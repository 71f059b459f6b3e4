import {applyTaskEvent, type TaskState as LifecycleState} from '../contract/lifecycle.js'
import {TASK_VERBS} from '../contract/services.js'
import {TaskBoard, taskEventVerb, type TaskEventInput} from '../tasks/board.js'

/**
 * The state of one workflow, folded message by message: the one reducer behind `workflow show` (which folds a
 * correlation's messages in time order) and `workflow list`/`workflow count` (which fold every correlation of
 * a window as its messages are read, keeping only this state, not the messages). Task events go through the
 * same TaskBoard as `task watch` and `task list`, or (`applyTask`, for list and count) through the same
 * lifecycle decision (`applyTaskEvent`) into a compact record, so every command agrees on a task's state.
 */

export type WorkflowStatus = 'running' | 'succeeded' | 'failed' | 'dead-lettered'

import type {WorkflowListStatus} from './list-options.js'

export {
  DEFAULT_MAX_WORKFLOWS,
  DEFAULT_STALLED_AFTER_MS,
  GROUP_BY_KEYS,
  WORKFLOW_LIST_STATUSES,
  type WorkflowGroupKey,
  type WorkflowListStatus,
} from './list-options.js'

export interface TaskState {
  task_id: string
  site: string
  state: string
  /** id of the message that set the state. */
  id: string
}

/** What the fold reads of a message: where it was stored, its id and time, and its envelope. */
export interface FoldMessage {
  site: string
  subject: string
  /** RFC 3339: the envelope's time when valid, else when the stream stored it. */
  time: string
  id: string
  envelope: TaskEventInput['envelope']
}

/** One task per task id, whichever site reported it (one options object for every fold's board). */
const ACROSS_SITES = {acrossSites: true} as const

/** A fold's options when none are given (one object, not one per fold). */
const DEFAULT_FOLD: {setters?: boolean} = Object.freeze({})

/** Task states that have begun work and have not ended: the ones that can stall. */
const WORKING = new Set(['started', 'progress'])

/**
 * dead-lettered when any message of it was dead-lettered; failed when a task failed or was cancelled;
 * succeeded when it has tasks and all of them succeeded; running otherwise.
 */
export function deriveStatus(tasks: readonly Pick<TaskState, 'state'>[], deadLetterCount: number): WorkflowStatus {
  if (deadLetterCount > 0) return 'dead-lettered'
  if (tasks.some((t) => t.state === 'failed' || t.state === 'cancelled')) return 'failed'
  if (tasks.length > 0 && tasks.every((t) => t.state === 'succeeded')) return 'succeeded'
  return 'running'
}

/**
 * One workflow's task states and dead letters, one message at a time. The board is made on the first task
 * event, so a correlation without tasks costs nothing here.
 */
export class WorkflowFold {
  deadLetters = 0
  private board: TaskBoard | undefined
  /** Per task: the site and id of the event that set its state. */
  private setBy: Map<string, Pick<TaskState, 'site' | 'id'>> | undefined
  /**
   * `applyTask` (workflow list): per task, in the order the tasks appeared, its id, state and when its last
   * event happened (ms), flat; the states are the lifecycle's own strings, so a workflow costs a few words.
   */
  private compact: Array<string | number> | undefined

  /**
   * `setters: false` does not remember which event set each task's state (`tasks()` then gives the latest
   * event's site and an empty id): for `workflow list`, which keeps many folds and shows only the states.
   */
  constructor(private readonly options: {setters?: boolean} = DEFAULT_FOLD) {}

  /** Applies one message; anything but a task event (`dv.task.evt.<verb>`) leaves the state as it is. */
  apply(m: FoldMessage): void {
    if (!taskEventVerb(m.subject)) return
    this.board ??= new TaskBoard(ACROSS_SITES)
    const update = this.board.apply({site: m.site, subject: m.subject, time: m.time, envelope: m.envelope})
    if (!update || this.options.setters === false) return
    this.setBy ??= new Map()
    // An event that breaks the lifecycle does not change the state, nor who set it.
    if (!update.illegal || !this.setBy.has(update.task.task_id))
      this.setBy.set(update.task.task_id, {site: m.site, id: m.id})
  }

  /**
   * Applies one task event given as its task id (`data.task_id`, else the envelope subject), lifecycle verb
   * (the subject's last token) and time (ms): the same lifecycle decision as the TaskBoard (an illegal event
   * moves the task's time but never its state), keeping only the id, state and time of each task. For
   * `workflow list`, which folds every workflow of a window at once; a fold uses either this or `apply`.
   */
  applyTask(taskId: string, verb: string, at: number): void {
    const tasks = (this.compact ??= [])
    let i = 0
    while (i < tasks.length && tasks[i] !== taskId) i += 3
    const known = i < tasks.length ? (tasks[i + 1] as string) : undefined
    const transition = applyTaskEvent(
      known === undefined || known === 'unknown' ? undefined : (known as LifecycleState),
      verb,
    )
    if (known === undefined) tasks.push(taskId, 'unknown', at)
    tasks[i + 2] = at
    if (!transition.illegal && transition.state !== undefined) {
      // The lifecycle's own string, not the subject's copy of it.
      tasks[i + 1] = TASK_VERBS.find((v) => v === transition.state) ?? transition.state
    }
  }

  /** Each task's state (board or compact), in the order the tasks appeared. */
  private states(): string[] {
    if (this.compact) {
      const out: string[] = []
      for (let i = 1; i < this.compact.length; i += 3) out.push(this.compact[i] as string)
      return out
    }
    return this.board?.tasks().map((t) => t.state) ?? []
  }

  /** The latest state of each task, in the order the tasks appeared. */
  tasks(): TaskState[] {
    if (this.compact) {
      // The compact fold keeps no sites nor ids (workflow list shows only the states).
      const out: TaskState[] = []
      for (let i = 0; i < this.compact.length; i += 3) {
        out.push({task_id: this.compact[i] as string, site: '', state: this.compact[i + 1] as string, id: ''})
      }
      return out
    }
    if (!this.board) return []
    return this.board.tasks().map((t) => {
      const {site, id} = this.setBy?.get(t.task_id) ?? {site: t.site, id: ''}
      return {task_id: t.task_id, site, state: t.state, id}
    })
  }

  /** How many tasks are in each state. */
  taskCounts(): Record<string, number> {
    const counts: Record<string, number> = {}
    for (const state of this.states()) counts[state] = (counts[state] ?? 0) + 1
    return counts
  }

  status(): WorkflowStatus {
    return deriveStatus(
      this.states().map((state) => ({state})),
      this.deadLetters,
    )
  }

  /**
   * The last event of the longest-silent task that started and has not ended, when that event is before
   * `before` (ms since the epoch); undefined when no task stalled.
   */
  stalledSince(before: number): string | undefined {
    if (this.compact) {
      let oldest: number | undefined
      for (let i = 0; i < this.compact.length; i += 3) {
        if (!WORKING.has(this.compact[i + 1] as string)) continue
        const at = this.compact[i + 2] as number
        if (at < before && (oldest === undefined || at < oldest)) oldest = at
      }
      return oldest === undefined ? undefined : new Date(oldest).toISOString()
    }
    let oldest: string | undefined
    for (const t of this.board?.tasks() ?? []) {
      if (!WORKING.has(t.state)) continue
      const at = Date.parse(t.updated_at)
      if (at < before && (oldest === undefined || at < Date.parse(oldest))) oldest = t.updated_at
    }
    return oldest
  }

  /**
   * The status with stalls: running becomes stalled when a task started and has had no event since
   * `stalledBefore` (ms since the epoch). Precedence: WORKFLOW_LIST_STATUSES.
   */
  listStatus(stalledBefore: number): WorkflowListStatus {
    const status = this.status()
    return status === 'running' && this.stalledSince(stalledBefore) !== undefined ? 'stalled' : status
  }
}
