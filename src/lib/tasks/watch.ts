import {z} from 'zod'

import {decodeMessage, type Envelope} from '../contract/envelope.js'
import {ProblemSchema} from '../contract/problem-schema.js'
import {notFound, type UserError} from '../errors.js'
import {STREAMS} from '../layout/names.js'
import type {SiteConnection} from '../nats/connection.js'
import {connectionError, isStreamNotFound} from '../nats/errors.js'
import {readStreams, type StoredMessage} from '../nats/reader.js'
import {TaskBoard, type TaskUpdate} from './board.js'

/** Which task events to show: every given field must match (README, "Commands", `task watch`). */
export interface TaskFilter {
  correlationId?: string
  /** The task id: `data.task_id`, or the envelope subject of a task event. */
  taskId?: string
  /** The service reporting the task (the envelope `source`). */
  service?: string
  tenant?: string
}

export interface TaskReadOptions {
  filter: TaskFilter
  /** History bound: only events stored in the last `sinceMs`; all history when absent. */
  sinceMs?: number
  /** Start after this stream sequence instead (used by `publish --wait`: only what follows the publish). */
  afterSeq?: number
  /** Keep reading new events after the history; otherwise stop once caught up. */
  live: boolean
  signal?: AbortSignal
}

/** One NDJSON line of `task watch --json` (docs/architecture.md, "JSON results"), with what the event did to its task. */
export const TaskMessageLine = z.object({
  site: z.string(),
  stream: z.string(),
  seq: z.number(),
  subject: z.string(),
  time: z.string(),
  envelope: z.record(z.string(), z.unknown()),
  task: z
    .object({
      task_id: z.string(),
      state: z.string(),
      previous_state: z.string().nullable(),
      /** Set when this event broke the lifecycle (after a terminal state, backwards, unknown verb). */
      illegal_transition: ProblemSchema.optional(),
      duplicate: z.boolean().optional(),
    })
    .optional(),
  warnings: z.array(ProblemSchema).optional(),
})
export type TaskMessageLine = z.infer<typeof TaskMessageLine>

/** A message on DV_TASK that breaks the contract: shown with its problems, never a crash. */
export const InvalidMessageLine = z.object({
  site: z.string(),
  stream: z.string(),
  seq: z.number(),
  subject: z.string(),
  time: z.string(),
  invalid: z.literal(true),
  problems: z.array(ProblemSchema),
  raw: z.string(),
})
export type InvalidMessageLine = z.infer<typeof InvalidMessageLine>

export const TaskWatchLine = z.union([TaskMessageLine, InvalidMessageLine])

export type TaskWatchItem =
  | {kind: 'message'; line: TaskMessageLine; update?: TaskUpdate}
  | {kind: 'invalid'; line: InvalidMessageLine}
  /** Every site has delivered its history; what follows is live. */
  | {kind: 'caught-up'}
  /** One of several sites could not be read (no DV_TASK, lost connection); the others still are. */
  | {kind: 'site-error'; site: string; error: UserError}
  /** Live: a site dropped; its events resume from the last one seen once it is back. */
  | {kind: 'site-down'; site: string}
  | {kind: 'site-up'; site: string}

/**
 * Reads the task events of DV_TASK on every given site (history first, bounded by `sinceMs`, then live when
 * asked), merged as they arrive, and folds them into `board`. A malformed message becomes an `invalid` item
 * and an illegal transition is flagged on its line. One site failing is reported and the others go on;
 * every site failing (or the only one) ends the read with that site's error.
 */
export async function* readTaskEvents(
  conns: SiteConnection[],
  board: TaskBoard,
  options: TaskReadOptions,
): AsyncGenerator<TaskWatchItem> {
  const stop = new AbortController()
  const signal = options.signal ? AbortSignal.any([options.signal, stop.signal]) : stop.signal
  const start =
    options.afterSeq !== undefined
      ? {seq: options.afterSeq + 1}
      : options.sinceMs !== undefined
        ? {time: new Date(Date.now() - options.sinceMs)}
        : undefined
  const events = readStreams(
    conns.map((conn) => ({conn, stream: STREAMS.task, filterSubject: TASK_EVENTS})),
    {order: 'arrival', start, follow: options.live, batch: 256, signal},
  )
  let failedSites = 0
  try {
    for await (const event of events) {
      switch (event.kind) {
        case 'message': {
          const item = toItem(event.message, board, options.filter)
          if (item) yield item
          break
        }
        case 'caught-up':
          yield {kind: 'caught-up'}
          break
        case 'site-down':
        case 'site-up':
          yield {kind: event.kind, site: event.site}
          break
        case 'stream-missing':
        case 'site-error': {
          const conn = conns.find((c) => c.site.name === event.site)!
          const error =
            event.kind === 'stream-missing' ? noTaskStream(conn) : connectionError(conn.site, conn.url, event.error)
          // One site alone, or every site failing, ends the watch; otherwise the others go on (docs/operations.md, "Sites and configuration").
          if (++failedSites === conns.length) throw error
          yield {kind: 'site-error', site: event.site, error}
          break
        }
        case 'failed':
          throw event.error
      }
    }
  } finally {
    stop.abort()
  }
}

/** The task events DV_TASK holds (docs/operations.md, "Layouts"). */
const TASK_EVENTS = 'dv.task.evt.>'

/**
 * The last sequence of DV_TASK on a site: where the history ends. A site without the stream is exit 5 with
 * the fix named; anything else is a connection error.
 */
export async function taskStreamEnd(conn: SiteConnection): Promise<number> {
  const jsm = await conn.jsm()
  try {
    return (await jsm.streams.info(STREAMS.task)).state.last_seq
  } catch (error) {
    if (isStreamNotFound(error)) throw noTaskStream(conn)
    throw connectionError(conn.site, conn.url, error)
  }
}

function noTaskStream(conn: SiteConnection): UserError {
  return notFound(
    `Site ${conn.site.name} has no ${STREAMS.task} stream: no task events to watch.`,
    'stream-not-found',
    'Create the standard streams with dvctl layout apply.',
  )
}

function toItem(stored: StoredMessage, board: TaskBoard, filter: TaskFilter): TaskWatchItem | undefined {
  const {site, data, subject} = stored
  // Cheap pre-filter on raw bytes before parsing JSON (README, "Commands"): an id not in the body cannot match.
  for (const needle of [filter.correlationId, filter.taskId, filter.tenant]) {
    if (needle && Buffer.from(data.buffer, data.byteOffset, data.byteLength).indexOf(needle) < 0) {
      return undefined
    }
  }
  const base = {site, stream: stored.stream, seq: stored.seq, subject, time: stored.time}
  const decoded = decodeMessage(data, {subject})
  if (!decoded.ok) {
    return {kind: 'invalid', line: {...base, invalid: true, problems: decoded.problems, raw: decoded.raw}}
  }
  const envelope = decoded.envelope
  if (!matches(envelope, filter)) return undefined
  const update = board.apply({site, subject, time: base.time, envelope})
  const line: TaskMessageLine = {
    ...base,
    envelope,
    ...(update
      ? {
          task: {
            task_id: update.task.task_id,
            state: update.task.state,
            previous_state: update.previous ?? null,
            ...(update.illegal ? {illegal_transition: update.illegal} : {}),
            ...(update.duplicate ? {duplicate: true} : {}),
          },
        }
      : {}),
    ...(decoded.warnings.length ? {warnings: decoded.warnings} : {}),
  }
  return {kind: 'message', line, update}
}

export function matches(envelope: Envelope, filter: TaskFilter): boolean {
  if (filter.correlationId && envelope.correlation_id !== filter.correlationId) return false
  if (filter.service && envelope.source !== filter.service) return false
  if (filter.tenant && envelope.tenant_id !== filter.tenant) return false
  if (filter.taskId) {
    const taskId = (envelope.data as {task_id?: unknown}).task_id ?? envelope.subject
    if (taskId !== filter.taskId) return false
  }
  return true
}

/** How a watch ended: every task succeeded, one failed or was cancelled, the timeout, or the stream ended. */
export type WatchOutcome = 'succeeded' | 'failed' | 'timeout' | 'ended' | 'interrupted'

export interface WatchOptions extends TaskReadOptions {
  /** Stop once at least one task is seen and every watched task is terminal (`--until-done`, `--wait`). */
  untilDone: boolean
  /** Give up after this long (`--timeout`): outcome `timeout`. */
  timeoutMs?: number
  /** Called for each item as it arrives (the command renders it). */
  onItem?: (item: TaskWatchItem, board: TaskBoard) => void | Promise<void>
}

/**
 * Watches task events until done (`untilDone`), the timeout, an abort, or (when not live) the end of the
 * history. Completion is judged only once the history is read, so a task finished early in the history
 * cannot end the watch before a later one is seen.
 */
export async function watchTasks(
  conns: SiteConnection[],
  options: WatchOptions,
): Promise<{outcome: WatchOutcome; board: TaskBoard}> {
  const board = new TaskBoard()
  const controller = new AbortController()
  let timedOut = false
  const timer =
    options.timeoutMs !== undefined
      ? setTimeout(() => {
          timedOut = true
          controller.abort()
        }, options.timeoutMs)
      : undefined
  const onOuterAbort = () => controller.abort()
  // An abort that came before the watch (Ctrl-C as `publish --wait` stored its command) ends it too.
  if (options.signal?.aborted) onOuterAbort()
  else options.signal?.addEventListener('abort', onOuterAbort)
  let caughtUp = false
  try {
    for await (const item of readTaskEvents(conns, board, {...options, signal: controller.signal})) {
      if (item.kind === 'caught-up') caughtUp = true
      await options.onItem?.(item, board)
      if (options.untilDone && caughtUp) {
        const outcome = board.outcome()
        if (outcome === 'succeeded' || outcome === 'failed') return {outcome, board}
      }
    }
  } finally {
    clearTimeout(timer)
    options.signal?.removeEventListener('abort', onOuterAbort)
    controller.abort()
  }
  if (timedOut) return {outcome: 'timeout', board}
  if (options.signal?.aborted) return {outcome: 'interrupted', board}
  return {outcome: 'ended', board}
}
