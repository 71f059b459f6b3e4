import {z} from 'zod'

import {ExitCode} from '../exit-codes.js'
import type {SiteConnection} from '../nats/connection.js'
import {compareText} from '../order.js'
import {TaskRecordSchema, type TaskRecord} from './board.js'
import {watchTasks, type TaskFilter} from './watch.js'

/** `dvctl task list --json`: the latest state of each task, per site. */
export const TaskListResult = z.object({
  sites: z.array(z.object({site: z.string(), url: z.string(), error: z.string().optional()})),
  tasks: z.array(TaskRecordSchema),
})
export type TaskListResult = z.infer<typeof TaskListResult>

export interface TaskListOptions {
  filter: TaskFilter
  /** Only tasks with events in this window (`--since`). */
  sinceMs?: number
  /** Only tasks whose latest state is one of these (`--state`). */
  states?: string[]
}

/**
 * Reads the task history of each site once (no live part) and returns each task's latest state, oldest first,
 * with the sites that could not be read (while others could) and why.
 */
export async function listTasks(
  conns: SiteConnection[],
  options: TaskListOptions,
): Promise<{tasks: TaskRecord[]; siteErrors: Map<string, string>; lost: string[]}> {
  const siteErrors = new Map<string, string>()
  // Sites reached but whose server stopped answering mid-read (exit 68 when others were read).
  const lost: string[] = []
  const {board} = await watchTasks(conns, {
    filter: options.filter,
    sinceMs: options.sinceMs,
    live: false,
    untilDone: false,
    onItem: (item) => {
      if (item.kind !== 'site-error') return
      siteErrors.set(item.site, item.error.message)
      if (item.error.exitCode === ExitCode.unavailable) lost.push(item.site)
    },
  })
  const states = options.states?.length ? new Set(options.states) : undefined
  const tasks = board
    .tasks()
    .filter((t) => !states || states.has(t.state))
    .sort((a, b) => compareText(a.created_at, b.created_at) || compareText(a.site, b.site))
  return {tasks, siteErrors, lost}
}
