import {TaskBoard, taskEventVerb, type TaskEventInput} from '../tasks/board.js'

/**
 * The state of one workflow, folded message by message: the one reducer behind `workflow show` (which folds a
 * correlation's messages in time order) and `workflow list`/`workflow count` (which fold every correlation of
 * a window as its messages are read, keeping only this state, not the messages). Task events go through the
 * same TaskBoard as `task watch` and `task list`, so every command agrees on a task's state.
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
   * `setters: false` does not remember which event set each task's state (`tasks()` then gives the latest
   * event's site and an empty id): for `workflow list`, which keeps many folds and shows only the states.
   */
  constructor(private readonly options: {setters?: boolean} = {}) {}

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

  /** The latest state of each task, in the order the tasks appeared. */
  tasks(): TaskState[] {
    if (!this.board) return []
    return this.board.tasks().map((t) => {
      const {site, id} = this.setBy?.get(t.task_id) ?? {site: t.site, id: ''}
      return {task_id: t.task_id, site, state: t.state, id}
    })
  }

  /** How many tasks are in each state. */
  taskCounts(): Record<string, number> {
    const counts: Record<string, number> = {}
    for (const t of this.board?.tasks() ?? []) counts[t.state] = (counts[t.state] ?? 0) + 1
    return counts
  }

  status(): WorkflowStatus {
    return deriveStatus(this.board?.tasks() ?? [], this.deadLetters)
  }

  /**
   * The last event of the longest-silent task that started and has not ended, when that event is before
   * `before` (ms since the epoch); undefined when no task stalled.
   */
  stalledSince(before: number): string | undefined {
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
