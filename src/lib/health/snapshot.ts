import type {StreamInfo} from '@nats-io/jetstream'
import {z} from 'zod'

import {
  ConsumerHealth,
  DoctorSite,
  readConsumerHealth,
  sourceHealth,
  SourceHealth,
  type OldestUnacked,
} from '../doctor/check.js'
import {DeadLetterReason} from '../dlq/model.js'
import {PendingDeadLetters} from '../dlq/pending.js'
import {UserError} from '../errors.js'
import {STREAMS} from '../layout/names.js'
import type {Layout} from '../layout/schema.js'
import type {SiteConnection} from '../nats/connection.js'
import {describeNatsError, isStreamNotFound} from '../nats/errors.js'
import {isStalledTask, TaskBoard} from '../tasks/board.js'
import {readTaskEvents} from '../tasks/watch.js'

/**
 * The health snapshot of one site (issue 18): what `dvctl check`, `dvctl metrics serve` and `dvctl top`
 * show, worked out once here. A service: it never prints.
 *
 * Usage:
 *   const collector = new SiteCollector(conn, {stalledTaskMs: 300_000})
 *   const snap = await collector.collect()   // first call reads everything
 *   ...
 *   const next = await collector.collect()   // later calls read only what is new (DV_DLQ, ledger, DV_TASK)
 * or, once: `await collectSnapshot(conn, options)`. A site that could not be dialled: `unreachableSnapshot`.
 * Several sites, with reconnects and a collection interval: `HealthMonitor` (health/monitor.ts).
 *
 * Where each part comes from (no second implementation of any of them):
 * - dead letters: dlq/pending.ts (`PendingDeadLetters`), which decides "pending" with dlq/read.ts's
 *   `scanAdvisories` and `checkOriginals` and the ledger (dlq/ledger.ts), as `dlq list` does;
 * - consumers and the oldest unacknowledged command: doctor/check.ts `readConsumerHealth`;
 * - tasks: the task board (tasks/board.ts) fed by tasks/watch.ts `readTaskEvents`; stalled: `isStalledTask`;
 * - cross-site sources: doctor/check.ts `sourceHealth`.
 *
 * Each part is read on its own: one that fails is listed in `errors` and the others are still read. A site
 * that cannot be read at all (unreachable, no JetStream, its link down) has `reachable: false` and `error`.
 * Strings in a snapshot come from the network: renderers sanitise them (render/text.ts).
 */

/** The parts of a snapshot, each read on its own. */
export const SnapshotPart = z.enum(['streams', 'dead_letters', 'consumers', 'tasks'])
export type SnapshotPart = z.infer<typeof SnapshotPart>

export const PendingGroupSchema = z.object({
  stream: z.string(),
  consumer: z.string(),
  reason: DeadLetterReason,
  count: z.number(),
  oldest_age_ms: z.number(),
})

export const PendingLetterSchema = z.object({
  /** `<stream>:<seq>` on this site (`dvctl dlq show REF --site SITE`). */
  ref: z.string(),
  stream: z.string(),
  seq: z.number(),
  consumer: z.string(),
  reason: DeadLetterReason,
  dead_lettered_at: z.string(),
  age_ms: z.number(),
})

export const DeadLetterSnapshot = z.object({
  /** Pending dead letters (the count `dlq list` shows by default). */
  pending: z.number(),
  /** By stream, consumer and reason. */
  groups: z.array(PendingGroupSchema),
  /** The oldest pending one: a fresh burst and a permanently parked message look alike by count alone. */
  oldest: PendingLetterSchema.nullable(),
  /** The newest pending ones, newest first (at most 20). */
  recent: z.array(PendingLetterSchema),
  /** DV_DLQ messages read since the collector started: grows with every new advisory (a counter). */
  advisories_read: z.number(),
})
export type DeadLetterSnapshot = z.infer<typeof DeadLetterSnapshot>

export const StalledTask = z.object({
  task_id: z.string(),
  service: z.string().nullable(),
  state: z.string(),
  correlation_id: z.string().nullable(),
  updated_at: z.string(),
  /** Since its last event. */
  idle_ms: z.number(),
})
export type StalledTask = z.infer<typeof StalledTask>

export const TaskSnapshot = z.object({
  /** Tasks of DV_TASK by their latest state (created, queued, started, progress, succeeded, failed, cancelled, unknown). */
  by_state: z.record(z.string(), z.number()),
  total: z.number(),
  /** Running tasks whose last event is older than the stalled-task threshold; the longest idle first, at most 50. */
  stalled: z.array(StalledTask),
  stalled_count: z.number(),
  stalled_after_ms: z.number(),
})
export type TaskSnapshot = z.infer<typeof TaskSnapshot>

export const SiteSnapshot = z.object({
  site: z.string(),
  url: z.string(),
  taken_at: z.string(),
  reachable: z.boolean(),
  /** Why the site could not be read at all; null when it was. */
  error: z.string().nullable(),
  server_version: z.string().nullable(),
  /** Parts that could not be read this time; the others were. */
  errors: z.array(z.object({part: SnapshotPart, message: z.string()})),
  /** Null when DV_DLQ could not be read (see `errors`). */
  dead_letters: DeadLetterSnapshot.nullable(),
  /** Durable consumers of DV_CMD: pending, ack pending, redelivered, last delivery and ack ages. */
  consumers: z.array(ConsumerHealth),
  oldest_unacked: DoctorSite.shape.oldest_unacked,
  /** Null when DV_TASK could not be read (see `errors`). */
  tasks: TaskSnapshot.nullable(),
  /** Streams that source or mirror another site's stream, with their lag. */
  sources: z.array(SourceHealth),
})
export type SiteSnapshot = z.infer<typeof SiteSnapshot>

export interface SnapshotOptions {
  /** A running task whose last event is older than this is stalled (`--stalled-task`; default 5 minutes). */
  stalledTaskMs?: number
  /** A cross-site source silent for longer than this is stalled (default 5s, as `doctor --stall-after`). */
  sourceStallAfterMs?: number
  /** The layout whose command streams and consumer filters are trusted (default: the standard layout). */
  layout?: Layout
}

export const DEFAULT_STALLED_TASK_MS = 5 * 60_000
const DEFAULT_SOURCE_STALL_MS = 5000
/** Stalled tasks listed by name in a snapshot (all are counted). */
const STALLED_LISTED = 50

/**
 * Collects snapshots of one connected site. The first `collect()` reads everything; each later one reads
 * only what DV_DLQ, the ledger and DV_TASK stored since (plus a few info requests), so it can run every few
 * seconds for days with memory bounded by what those streams hold. Calls must not overlap.
 */
export class SiteCollector {
  private readonly dlq: PendingDeadLetters
  private readonly board = new TaskBoard({withoutResults: true})
  private lastTaskSeq = 0

  constructor(
    readonly conn: SiteConnection,
    private readonly options: SnapshotOptions = {},
  ) {
    this.dlq = new PendingDeadLetters(conn, options.layout)
  }

  async collect(now: () => Date = () => new Date()): Promise<SiteSnapshot> {
    const conn = this.conn
    const snap = emptySnapshot(conn.site.name, conn.url, now())
    if (conn.linkDown()) {
      snap.error = `Site ${conn.site.name} (${conn.url}): the connection is down (reconnecting)`
      return snap
    }
    let identity
    try {
      identity = await conn.identity()
    } catch (error) {
      snap.error = describeNatsError(error).error
      return snap
    }
    snap.server_version = identity.serverVersion
    if (identity.jetstreamError) {
      snap.error = `JetStream: ${describeNatsError(identity.jetstreamError).error}`
      return snap
    }
    snap.reachable = true
    const fail = (part: SnapshotPart, error: unknown) =>
      snap.errors.push({part, message: error instanceof UserError ? error.message : describeNatsError(error).error})

    await Promise.all([
      this.dlq.refresh().then(
        () => (snap.dead_letters = this.dlq.summary(now())),
        (error) => fail('dead_letters', error),
      ),
      readConsumerHealth(conn, now()).then(
        ({consumers, oldest}) => {
          snap.consumers = consumers
          snap.oldest_unacked = oldest
        },
        (error) => (isStreamNotFound(error) ? undefined : fail('consumers', error)),
      ),
      this.readTasks(now).then(
        (tasks) => (snap.tasks = tasks),
        (error) => fail('tasks', error),
      ),
      listStreams(conn).then(
        (streams) => (snap.sources = sourceHealth(streams, this.options.sourceStallAfterMs ?? DEFAULT_SOURCE_STALL_MS)),
        (error) => fail('streams', error),
      ),
    ])
    return snap
  }

  private async readTasks(now: () => Date): Promise<TaskSnapshot> {
    const jsm = await this.conn.jsm()
    // Tasks whose events DV_TASK no longer holds (aged out, purged) are forgotten: memory follows the stream.
    const info = await jsm.streams.info(STREAMS.task).catch((error: unknown) => {
      if (isStreamNotFound(error)) return null
      throw error
    })
    if (info && info.state.last_seq < this.lastTaskSeq) {
      this.lastTaskSeq = 0
      this.board.forget(() => true)
    }
    if (info) {
      const first = info.state.messages > 0 ? Date.parse(info.state.first_ts) : Infinity
      if (!Number.isNaN(first)) this.board.forget((t) => Date.parse(t.updated_at) < first)
    }
    for await (const item of readTaskEvents([this.conn], this.board, {
      filter: {},
      afterSeq: this.lastTaskSeq,
      live: false,
    })) {
      if (item.kind === 'message' || item.kind === 'invalid')
        this.lastTaskSeq = Math.max(this.lastTaskSeq, item.line.seq)
    }
    const at = now()
    const stalledAfter = this.options.stalledTaskMs ?? DEFAULT_STALLED_TASK_MS
    const byState: Record<string, number> = {}
    const stalled: StalledTask[] = []
    for (const t of this.board.tasks()) {
      byState[t.state] = (byState[t.state] ?? 0) + 1
      if (!isStalledTask(t, at, stalledAfter)) continue
      stalled.push({
        task_id: t.task_id,
        service: t.service,
        state: t.state,
        correlation_id: t.correlation_id,
        updated_at: t.updated_at,
        idle_ms: at.getTime() - Date.parse(t.updated_at),
      })
    }
    stalled.sort((a, b) => b.idle_ms - a.idle_ms)
    return {
      by_state: byState,
      total: this.board.size,
      stalled: stalled.slice(0, STALLED_LISTED),
      stalled_count: stalled.length,
      stalled_after_ms: stalledAfter,
    }
  }
}

/** One snapshot of one connected site (`dvctl check`): a collector used once. */
export function collectSnapshot(conn: SiteConnection, options: SnapshotOptions = {}): Promise<SiteSnapshot> {
  return new SiteCollector(conn, options).collect()
}

/** The snapshot of a site that could not be dialled. */
export function unreachableSnapshot(
  site: string,
  url: string,
  error: UserError | string,
  now = new Date(),
): SiteSnapshot {
  return {...emptySnapshot(site, url, now), error: typeof error === 'string' ? error : error.message}
}

function emptySnapshot(site: string, url: string, now: Date): SiteSnapshot {
  return {
    site,
    url,
    taken_at: now.toISOString(),
    reachable: false,
    error: null,
    server_version: null,
    errors: [],
    dead_letters: null,
    consumers: [],
    oldest_unacked: null as OldestUnacked | null,
    tasks: null,
    sources: [],
  }
}

async function listStreams(conn: SiteConnection): Promise<StreamInfo[]> {
  const jsm = await conn.jsm()
  const streams: StreamInfo[] = []
  for await (const info of jsm.streams.list()) streams.push(info)
  return streams
}
