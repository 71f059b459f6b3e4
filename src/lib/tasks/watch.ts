import type {ConsumerMessages, JsMsg} from '@nats-io/jetstream'
import {z} from 'zod'

import {decodeMessage, type Envelope} from '../contract/envelope.js'
import {ProblemSchema} from '../contract/problems.js'
import {notFound, type UserError} from '../errors.js'
import {STREAMS} from '../layout/names.js'
import type {SiteConnection} from '../nats/connection.js'
import {nextWithin, withinOrStalled} from '../nats/bounded-read.js'
import {connectionError, isStreamNotFound, StalledError} from '../nats/errors.js'
import {TaskBoard, type TaskUpdate} from './board.js'

/** Which task events to show: every given field must match (DESIGN.md section 7, `task watch`). */
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

/** One NDJSON line of `task watch --json` (DESIGN.md section 11), with what the event did to its task. */
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
 * asked), merged as they arrive, and folds them into `board`. Each site is read with an ordered consumer;
 * a malformed message becomes an `invalid` item and an illegal transition is flagged on its line.
 */
export async function* readTaskEvents(
  conns: SiteConnection[],
  board: TaskBoard,
  options: TaskReadOptions,
): AsyncGenerator<TaskWatchItem> {
  const queue = new AsyncQueue<RawItem>()
  if (options.live) for (const conn of conns) watchLink(conn, queue)
  const readers = conns.map((conn) => readSite(conn, options, queue))
  let pendingSites = conns.length
  const finished = new Set<string>()
  let failedSites = 0
  let caughtUpSent = false
  const allDone = Promise.allSettled(readers).then(() => queue.close())
  try {
    while (true) {
      if (pendingSites === 0 && !caughtUpSent) {
        caughtUpSent = true
        yield {kind: 'caught-up'}
        if (!options.live) break
      }
      const item = await queue.next()
      if (item === undefined) break
      if (item.kind === 'caught-up') {
        if (!finished.has(item.site)) pendingSites--
        finished.add(item.site)
        continue
      }
      if (item.kind === 'site-down' || item.kind === 'site-up') {
        yield item
        continue
      }
      if (item.kind === 'error') {
        // One site alone, or every site failing, ends the watch; otherwise the others go on (DESIGN.md section 3).
        if (++failedSites === conns.length) throw item.error
        if (!finished.has(item.site)) pendingSites--
        finished.add(item.site)
        yield {kind: 'site-error', site: item.site, error: item.error}
        continue
      }
      const converted = toItem(item, board, options.filter)
      if (converted) yield converted
    }
  } finally {
    queue.close()
    await allDone
  }
}

/**
 * The last sequence of DV_TASK on a site: where the history ends. A site without the stream is exit 5 with
 * the fix named; anything else is a connection error.
 */
export async function taskStreamEnd(conn: SiteConnection): Promise<number> {
  const jsm = await conn.jsm()
  try {
    return (await jsm.streams.info(STREAMS.task)).state.last_seq
  } catch (error) {
    if (isStreamNotFound(error)) {
      throw notFound(
        `Site ${conn.site.name} has no ${STREAMS.task} stream: no task events to watch.`,
        'stream-not-found',
        'Create the standard streams with dvctl layout apply.',
      )
    }
    throw connectionError(conn.site, conn.url, error)
  }
}

type RawItem =
  | {kind: 'msg'; site: string; msg: JsMsg}
  | {kind: 'caught-up'; site: string}
  | {kind: 'error'; site: string; error: UserError}
  | {kind: 'site-down'; site: string}
  | {kind: 'site-up'; site: string}

/** Reports a site going away and coming back, as `tail` does; the ordered consumer resumes on its own. */
function watchLink(conn: SiteConnection, queue: AsyncQueue<RawItem>): void {
  const site = conn.site.name
  const status = conn.nc.status()
  let down = false
  void (async () => {
    for await (const s of status) {
      if (s.type === 'disconnect' && !down) {
        down = true
        queue.push({kind: 'site-down', site})
      } else if (s.type === 'reconnect' && down) {
        down = false
        queue.push({kind: 'site-up', site})
      }
    }
  })().catch(() => {})
  // The client's status iterator is a QueuedIterator: stop() ends the loop above.
  queue.onClose(() => (status as unknown as {stop?: () => void}).stop?.())
}

async function readSite(conn: SiteConnection, options: TaskReadOptions, queue: AsyncQueue<RawItem>): Promise<void> {
  const site = conn.site.name
  let lastSeq: number
  try {
    lastSeq = await taskStreamEnd(conn)
  } catch (error) {
    queue.push({kind: 'error', site, error: error as UserError})
    return
  }
  const js = await conn.js()
  // Always by start sequence: when the client recreates the ordered consumer after a server restart it
  // resumes by sequence, and a leftover opt_start_time is refused, which stalled the watch for good.
  const startSeq =
    options.afterSeq !== undefined
      ? options.afterSeq + 1
      : options.sinceMs !== undefined
        ? await sequenceAt(conn, new Date(Date.now() - options.sinceMs))
        : 1
  const consumer = await js.consumers.get(STREAMS.task, {filter_subjects: 'dv.task.evt.>', opt_start_seq: startSeq})
  let caughtUp = false
  const markCaughtUp = () => {
    if (caughtUp) return
    caughtUp = true
    queue.push({kind: 'caught-up', site})
  }
  const info = await consumer.info(true)
  if (info.num_pending === 0 || lastSeq === 0) markCaughtUp()
  if (caughtUp && !options.live) return
  // Without the live part the read is bounded: a server that stops answering fails the site after
  // --timeout (issue 13). Live, a lost site is reported and waited for.
  const stallMs = options.live ? undefined : conn.timeoutMs
  let stalled = false
  let messages: ConsumerMessages | undefined
  let iterator: AsyncIterator<JsMsg> | undefined
  const onAbort = () => void messages?.close()
  options.signal?.addEventListener('abort', onAbort)
  queue.onClose(onAbort)
  try {
    const consuming = consumer.consume({max_messages: 256})
    messages =
      stallMs === undefined
        ? await consuming
        : await withinOrStalled(consuming, conn, stallMs, `reading ${STREAMS.task}`)
    iterator = messages[Symbol.asyncIterator]()
    for (;;) {
      const r = await nextWithin(iterator, conn, stallMs, `reading ${STREAMS.task}`)
      if (r.done) break
      const msg = r.value
      // Backpressure: wait while the reader (and its output) is behind.
      await queue.put({kind: 'msg', site, msg})
      if (!caughtUp && (msg.info.pending === 0 || msg.seq >= lastSeq)) {
        markCaughtUp()
        if (!options.live) break
      }
    }
  } catch (error) {
    stalled = error instanceof StalledError
    if (!queue.closed) queue.push({kind: 'error', site, error: connectionError(conn.site, conn.url, error)})
  } finally {
    options.signal?.removeEventListener('abort', onAbort)
    // A stalled server is not waited for again.
    if (stalled) {
      messages?.stop()
    } else {
      // As a `for await` that breaks: the iterator ends, then the consumer is closed.
      await iterator?.return?.(undefined)
      await messages?.close().catch(() => {})
    }
  }
}

/** The first DV_TASK sequence at or after `from`: the server resolves it for a probe consumer, deleted at once. */
async function sequenceAt(conn: SiteConnection, from: Date): Promise<number> {
  const js = await conn.js()
  const probe = await js.consumers.get(STREAMS.task, {
    filter_subjects: 'dv.task.evt.>',
    opt_start_time: from.toISOString(),
  })
  const info = await probe.info(true)
  void probe.delete().catch(() => {})
  return info.delivered.stream_seq + 1
}

function toItem(
  item: {kind: 'msg'; site: string; msg: JsMsg},
  board: TaskBoard,
  filter: TaskFilter,
): TaskWatchItem | undefined {
  const {site, msg} = item
  // Cheap pre-filter on raw bytes before parsing JSON (DESIGN.md section 7): an id not in the body cannot match.
  for (const needle of [filter.correlationId, filter.taskId, filter.tenant]) {
    if (needle && Buffer.from(msg.data.buffer, msg.data.byteOffset, msg.data.byteLength).indexOf(needle) < 0) {
      return undefined
    }
  }
  const base = {site, stream: STREAMS.task, seq: msg.seq, subject: msg.subject, time: msg.time.toISOString()}
  const decoded = decodeMessage(msg.data, {subject: msg.subject})
  if (!decoded.ok) {
    return {kind: 'invalid', line: {...base, invalid: true, problems: decoded.problems, raw: decoded.raw}}
  }
  const envelope = decoded.envelope
  if (!matches(envelope, filter)) return undefined
  const update = board.apply({site, subject: msg.subject, time: base.time, envelope})
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

const HIGH_WATER = 512

/** A minimal queue joining several producers to one async consumer; `put` bounds it. */
class AsyncQueue<T> {
  private readonly items: T[] = []
  private waiter: ((value: T | undefined) => void) | undefined
  private readonly closers: Array<() => void> = []
  closed = false

  private readonly room: Array<() => void> = []

  /** Pushes, then waits while the queue is full (HIGH_WATER items) so a producer goes no faster than the reader. */
  put(item: T): Promise<void> {
    this.push(item)
    if (this.items.length < HIGH_WATER || this.closed) return Promise.resolve()
    return new Promise((resolve) => this.room.push(resolve))
  }

  push(item: T): void {
    if (this.closed) return
    if (this.waiter) {
      const w = this.waiter
      this.waiter = undefined
      w(item)
    } else {
      this.items.push(item)
    }
  }

  next(): Promise<T | undefined> {
    if (this.items.length > 0) {
      const item = this.items.shift()
      if (this.room.length && this.items.length < HIGH_WATER) for (const resolve of this.room.splice(0)) resolve()
      return Promise.resolve(item)
    }
    if (this.closed) return Promise.resolve(undefined)
    return new Promise((resolve) => (this.waiter = resolve))
  }

  onClose(fn: () => void): void {
    if (this.closed) fn()
    else this.closers.push(fn)
  }

  close(): void {
    if (this.closed) return
    this.closed = true
    for (const resolve of this.room.splice(0)) resolve()
    for (const fn of this.closers.splice(0)) fn()
    const w = this.waiter
    this.waiter = undefined
    w?.(undefined)
  }
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
  options.signal?.addEventListener('abort', onOuterAbort)
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
