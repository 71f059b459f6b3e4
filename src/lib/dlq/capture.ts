import {hostname} from 'node:os'
import {setTimeout as delay} from 'node:timers/promises'

import type {JsMsg} from '@nats-io/jetstream'
import type {KV} from '@nats-io/kv'
import {z} from 'zod'

import {notFound} from '../errors.js'
import {dataverketLayout} from '../layout/dataverket.js'
import {
  DLQ_ARCHIVE_STREAM,
  DLQ_CAPTURE_CONSUMER,
  DLQ_LEDGER_BUCKET,
  DLQ_RUNTIME_BUCKET,
  STREAMS,
} from '../layout/names.js'
import {layoutForSite} from '../layout/resolve.js'
import type {SiteConnection} from '../nats/connection.js'
import {describeNatsError, isNotFound, isStreamNotFound} from '../nats/errors.js'
import {retryTransient} from '../nats/transient.js'
import {compareText} from '../order.js'
import {belongsToSite, checkAdvisory} from './advisory.js'
import {type ArchivedOriginal, archiveSupport, type ArchiveSupport, writeArchiveCopy} from './archive.js'
import {ledgerEntriesOf} from './ledger.js'
import {LedgerEntry} from './model.js'
import {OriginalReader, parseEnvelope} from './original.js'
import {isHandled, replayRecordOf, type ReplayRecord, resolveOutcomes} from './outcome.js'
import {Provenance} from './provenance.js'
import {ledgerKey, refFromLedgerKey} from './ref.js'

/**
 * `dvctl dlq capture` (docs/operations.md, "Keeping dead letters' originals"): a long-running process with
 * the durable consumer `dlq_capture` on DV_DLQ. For each advisory it copies the dead command (subject,
 * headers, data, byte for byte) with the advisory's details into DV_DLQ_ARCHIVE (archive.ts), and only
 * then acknowledges the advisory. An advisory whose dead letter is archived already (a restart, a second
 * capture process, a `dlq list` that got there first) is acknowledged without a second copy.
 *
 * It writes a heartbeat to KV `dv_dlq_runtime` (`capture.<instance>`), which `doctor` reads. On nats-server
 * 2.11+ with `--handled-ttl`, the copy of a dead letter that was replayed or discarded is written again
 * with a per-message TTL (it follows the ledger); a pending dead letter's copy never expires.
 */

/** A capture process's heartbeat, as stored in KV (docs/contract.md, "The dead-letter archive"). */
export const CaptureHeartbeat = z.object({
  instance: z.string(),
  host: z.string(),
  pid: z.number(),
  site: z.string(),
  state: z.enum(['running', 'stopped']),
  started_at: z.string(),
  at: z.string(),
  interval_ms: z.number(),
  /** `--handled-ttl` in ms when handled copies expire (2.11+), else null. */
  handled_ttl_ms: z.number().nullable(),
  archived: z.number(),
  already_archived: z.number(),
  gone: z.number(),
  failed: z.number(),
})
export type CaptureHeartbeat = z.infer<typeof CaptureHeartbeat>

export const HEARTBEAT_PREFIX = 'capture'
export const DEFAULT_HEARTBEAT_MS = 5000

/** A heartbeat is fresh while younger than three intervals, and at least this long. */
const MIN_FRESH_MS = 15_000

/** Whether a heartbeat says its capture process is running now. */
export function isFresh(beat: CaptureHeartbeat, now: number): boolean {
  const age = now - Date.parse(beat.at)
  return beat.state === 'running' && age <= Math.max(3 * beat.interval_ms, MIN_FRESH_MS)
}

/** Every capture heartbeat of a site, newest first; null when the bucket does not exist. */
export async function readHeartbeats(conn: SiteConnection): Promise<CaptureHeartbeat[] | null> {
  const kv = await openBucket(conn, DLQ_RUNTIME_BUCKET)
  if (!kv) return null
  const beats: CaptureHeartbeat[] = []
  const keys = await kv.keys(`${HEARTBEAT_PREFIX}.>`)
  const names: string[] = []
  for await (const k of keys) names.push(k)
  for (const k of names) {
    const e = await kv.get(k)
    if (!e || e.operation !== 'PUT') continue
    const beat = CaptureHeartbeat.safeParse(parseJson(e.value))
    if (beat.success) beats.push(beat.data)
  }
  return beats.sort((a, b) => compareText(b.at, a.at))
}

export type CaptureEvent =
  | {kind: 'started'; site: string; instance: string; ttl: string | null; ttl_unavailable: string | null}
  | {kind: 'archived'; ref: string; archive_seq: number; state: 'pending' | 'handled'}
  | {kind: 'already-archived'; ref: string}
  | {kind: 'gone'; ref: string; reason: string}
  | {kind: 'expiring'; ref: string; archive_seq: number}
  /** A handled copy written again as pending (no TTL): its dead letter's last replay failed again. */
  | {kind: 'kept'; ref: string; archive_seq: number}
  | {kind: 'failed'; ref: string; error: string}
  | {kind: 'warning'; message: string}

export interface CaptureOptions {
  /** Stops the process: the advisory in hand is finished first. */
  signal: AbortSignal
  /** A handled dead letter's copy expires this long after it was handled (2.11+); unset: kept. */
  handledTtlMs?: number
  heartbeatMs?: number
  /** Stop once every advisory there is has been handled (`--once`), instead of waiting for more. */
  once?: boolean
  onEvent?: (event: CaptureEvent) => void
}

export const CaptureSummary = z.object({
  site: z.string(),
  instance: z.string(),
  archived: z.number(),
  already_archived: z.number(),
  gone: z.number(),
  ignored: z.number(),
  failed: z.number(),
  expiring: z.number(),
})
export type CaptureSummary = z.infer<typeof CaptureSummary>

/** Advisories pulled at once. */
const BATCH = 100
/** How long one pull waits for advisories before asking again (and how late a stop is noticed at most). */
const PULL_WAIT_MS = 2000
/** An advisory whose copy failed is offered again after this long. */
const RETRY_MS = 5000
/** Stream and consumer facts are read again after this long (a stream recreated meanwhile is noticed). */
const FACTS_MS = 10_000

export async function runCapture(conn: SiteConnection, options: CaptureOptions): Promise<CaptureSummary> {
  const emit = options.onEvent ?? (() => {})
  const site = conn.site.name
  const [support, runtime] = await Promise.all([archiveSupport(conn), openBucket(conn, DLQ_RUNTIME_BUCKET)])
  const consumer = await captureConsumer(conn, support, runtime)
  const instance = instanceName()
  const ttlMs = support.ttl ? options.handledTtlMs : undefined
  const summary: CaptureSummary = {
    site,
    instance,
    archived: 0,
    already_archived: 0,
    gone: 0,
    ignored: 0,
    failed: 0,
    expiring: 0,
  }

  const heartbeatMs = options.heartbeatMs ?? DEFAULT_HEARTBEAT_MS
  const startedAt = new Date().toISOString()
  const beat = async (state: 'running' | 'stopped', retry = false) => {
    const value: CaptureHeartbeat = {
      instance,
      host: hostname(),
      pid: process.pid,
      site,
      state,
      started_at: startedAt,
      at: new Date().toISOString(),
      interval_ms: heartbeatMs,
      handled_ttl_ms: ttlMs ?? null,
      archived: summary.archived,
      already_archived: summary.already_archived,
      gone: summary.gone,
      failed: summary.failed,
    }
    const put = () => runtime!.put(`${HEARTBEAT_PREFIX}.${instance}`, JSON.stringify(value))
    try {
      await (retry
        ? retryTransient(put, {withinMs: 10_000, signal: options.signal, giveUpIf: () => conn.linkDown()})
        : put())
    } catch (error) {
      emit({kind: 'warning', message: `heartbeat not written: ${describeNatsError(error).error}`})
    }
  }
  // The first heartbeat is stored before the start is said, through a leader election of a bucket just made: whoever
  // waits for that line (sandbox up) finds the capture in doctor at once.
  await beat('running', true)
  emit({
    kind: 'started',
    site,
    instance,
    ttl: ttlMs ? `${Math.round(ttlMs / 1000)}s` : null,
    ttl_unavailable: options.handledTtlMs && !support.ttl ? support.ttlUnavailable : null,
  })
  const timer = setInterval(() => void beat('running'), heartbeatMs)

  const facts = new Facts(conn)
  const stopWatch = ttlMs ? await followLedger(conn, facts, ttlMs, summary, emit, options.signal) : () => {}
  const domain = (await conn.identity()).jsDomain
  try {
    while (!options.signal.aborted) {
      let n = 0
      try {
        const batch = await consumer.fetch({max_messages: BATCH, expires: PULL_WAIT_MS})
        const onAbort = () => batch.stop()
        options.signal.addEventListener('abort', onAbort, {once: true})
        try {
          for await (const m of batch) {
            n++
            await handle(m)
          }
        } finally {
          options.signal.removeEventListener('abort', onAbort)
        }
      } catch (error) {
        // The stream or the consumer deleted: nothing to capture from, say so (exit 5). Anything else (a
        // reconnect to another node, a leader election, a timeout) passes: pull again shortly.
        if (isNotFound(error) || isStreamNotFound(error)) throw error
        emit({kind: 'warning', message: `pulling advisories: ${describeNatsError(error).error}; trying again`})
        // A stop (SIGTERM) ends the wait at once.
        await delay(RETRY_MS, undefined, {signal: options.signal}).catch(() => {})
        continue
      }
      if (options.once && n === 0) break
    }
  } finally {
    clearInterval(timer)
    stopWatch()
    await beat('stopped')
  }
  return summary

  async function handle(m: JsMsg): Promise<void> {
    const checked = checkAdvisory(m.data, m.subject)
    // Not an advisory of this site (forged, or carried over a leaf link): nothing to archive.
    if (!checked.ok || !belongsToSite(checked.advisory, domain)) {
      summary.ignored++
      m.ack()
      return
    }
    const a = checked.advisory
    const ref = `${a.stream}:${a.stream_seq}`
    try {
      const {reader, provenance} = facts.current()
      if (!provenance.isCommandStream(a.stream)) {
        summary.ignored++
        m.ack()
        return
      }
      await provenance.prepare(a.stream, [a.consumer])
      const storedAt = m.time.toISOString()
      const advisoryAt = {stream: m.info.stream, seq: m.seq}
      const existing = await reader.archived(a.stream, a.stream_seq)
      if (existing && !provenance.checkArchived(a, storedAt, advisoryAt, existing)) {
        summary.already_archived++
        emit({kind: 'already-archived', ref})
        await m.ackAck()
        return
      }
      const original = await reader.get(a.stream, a.stream_seq)
      const missing = provenance.check(a, storedAt, original)
      const info = await reader.info(a.stream)
      if (missing || !original || !info) {
        // Gone before it could be copied (or not the message that failed): nothing left to keep.
        summary.gone++
        emit({kind: 'gone', ref, reason: missing?.message ?? 'the original message is gone'})
        await m.ackAck()
        return
      }
      const handled = isHandled(await ownAction(facts.ledger(), a.stream, a.stream_seq))
      const stored = await writeArchiveCopy(conn, {
        original,
        streamCreated: info.created,
        advisory: {...a, ...advisoryAt},
        state: handled ? 'handled' : 'pending',
        by: 'capture',
        ...(handled && ttlMs ? {ttlMs} : {}),
      })
      // Only now: an advisory acknowledged before its copy is stored could lose the copy for good.
      await m.ackAck()
      summary.archived++
      emit({kind: 'archived', ref, archive_seq: stored.seq, state: handled ? 'handled' : 'pending'})
    } catch (error) {
      summary.failed++
      emit({kind: 'failed', ref, error: describeNatsError(error).error})
      m.nak(RETRY_MS)
    }
  }
}

/**
 * What `dlq capture` needs on the site: DV_DLQ with its consumer, the archive and the runtime bucket, all
 * from the standard layout; a clear exit 5 naming what is missing otherwise.
 */
async function captureConsumer(conn: SiteConnection, support: ArchiveSupport, runtime: KV | null) {
  const js = await conn.js()
  const missing: string[] = []
  let consumer
  try {
    consumer = await js.consumers.get(STREAMS.dlq, DLQ_CAPTURE_CONSUMER)
  } catch (error) {
    if (isStreamNotFound(error)) missing.push(`stream ${STREAMS.dlq}`)
    else if (isNotFound(error)) missing.push(`consumer ${STREAMS.dlq}/${DLQ_CAPTURE_CONSUMER}`)
    else throw error
  }
  if (!support.present) missing.push(`stream ${DLQ_ARCHIVE_STREAM}`)
  if (!runtime) missing.push(`KV bucket ${DLQ_RUNTIME_BUCKET}`)
  if (missing.length || !consumer) {
    throw notFound(
      `Site ${conn.site.name} lacks what dlq capture needs: ${missing.join(', ')}.`,
      'dlq-capture-layout-missing',
      'Apply the standard layout: dvctl layout apply.',
    )
  }
  return consumer
}

/** The reader and provenance checks of the current stream and consumer facts, read again every FACTS_MS. */
class Facts {
  private made = 0
  private value!: {reader: OriginalReader; provenance: Provenance}
  private ledgerKv: Promise<KV | null> | undefined

  constructor(private readonly conn: SiteConnection) {}

  current(): {reader: OriginalReader; provenance: Provenance} {
    if (Date.now() - this.made > FACTS_MS) {
      const reader = new OriginalReader(this.conn)
      const layout = layoutForSite(dataverketLayout(), this.conn.site.name)
      this.value = {reader, provenance: new Provenance(this.conn, reader, layout)}
      this.made = Date.now()
      // The ledger may be created later (by the first replay): look for it again too.
      this.ledgerKv = undefined
    }
    return this.value
  }

  ledger(): Promise<KV | null> {
    this.ledgerKv ??= openBucket(this.conn, DLQ_LEDGER_BUCKET)
    return this.ledgerKv
  }
}

/**
 * The last action the dead letter's own ledger key records (a discard; replays are in journals, which the
 * follower below reads with their outcomes).
 */
async function ownAction(ledger: Promise<KV | null>, stream: string, seq: number): Promise<string | undefined> {
  const kv = await ledger
  if (!kv) return undefined
  const e = await kv.get(ledgerKey({stream, seq}))
  if (!e || e.operation !== 'PUT') return undefined
  const entry = LedgerEntry.safeParse(parseJson(e.value))
  return entry.success ? entry.data.action : undefined
}

/** How often the outcomes of the replays followed are asked for (outcome.ts). */
const OUTCOME_CHECK_MS = 5000

/**
 * With a TTL for handled copies: follows the ledger (its last entries first, then every new one) and the
 * outcomes of its replays, and keeps each dead letter's archive copy in step with the rule of outcome.ts
 * (`isHandled`): the copy of a dead letter discarded, or replayed with a last replay that has not failed
 * again, is written again marked handled, with the TTL; once that replay fails or is dead-lettered again
 * (`replay_failed`), the copy is written again marked pending, without a TTL, so it never expires. A replay
 * is followed until its outcome is known (memory: one record per replay without an outcome yet).
 * Returns how to stop following.
 */
async function followLedger(
  conn: SiteConnection,
  facts: Facts,
  ttlMs: number,
  summary: CaptureSummary,
  emit: (event: CaptureEvent) => void,
  signal: AbortSignal,
): Promise<() => void> {
  const kv = await facts.ledger()
  if (!kv) {
    emit({
      kind: 'warning',
      message: `no ${DLQ_LEDGER_BUCKET} bucket yet: handled dead letters are noticed after a restart`,
    })
    return () => {}
  }
  const watch = await kv.watch({key: '>', ignoreDeletes: true})
  /** The last replay of each dead letter whose outcome is not known yet, by ledger key; `written`: the state set. */
  const replays = new Map<
    string,
    {ref: {stream: string; seq: number}; record: ReplayRecord; stored: number; written?: 'handled' | 'pending'}
  >()

  /** Writes the copy again in `state` (with the TTL when handled), unless it is in that state already. */
  const rewrite = async (
    ref: {stream: string; seq: number},
    state: 'handled' | 'pending',
    ledgerWrittenMs: number,
    replayId?: string,
  ) => {
    try {
      const archived = await facts.current().reader.archived(ref.stream, ref.seq)
      // Only a copy of the same incarnation (archived before the ledger entry was written).
      if (!archived || archived.state === state || !archivedBefore(archived, ledgerWrittenMs)) return
      const stored = await writeArchiveCopy(conn, {
        original: archived,
        streamCreated: archived.stream_created ?? '',
        advisory: archived.advisory,
        state,
        by: 'capture',
        ...(state === 'handled' ? {ttlMs} : {}),
        ...(replayId ? {replayId} : {}),
      })
      if (state === 'handled') summary.expiring++
      emit({kind: state === 'handled' ? 'expiring' : 'kept', ref: `${ref.stream}:${ref.seq}`, archive_seq: stored.seq})
    } catch (error) {
      emit({kind: 'warning', message: `${ref.stream}:${ref.seq}: TTL not changed: ${describeNatsError(error).error}`})
    }
  }

  /** Asks for the outcomes of the replays followed and writes each copy as the rule says. */
  const checkOutcomes = async () => {
    if (replays.size === 0) return
    const followed = [...replays.entries()]
    const outcomes = await resolveOutcomes(
      conn,
      followed.map(([, r]) => r.record),
    )
    for (const [key, r] of followed) {
      const outcome = outcomes.get(r.record.replay_id)?.outcome ?? 'pending'
      if (replays.get(key) !== r) continue
      if (outcome !== 'pending') replays.delete(key)
      const state = isHandled('replayed', outcome) ? 'handled' : 'pending'
      if (r.written === state) continue
      await rewrite(r.ref, state, r.stored, r.record.replay_id)
      r.written = state
    }
  }
  let checking = false
  const timer = setInterval(() => {
    if (checking) return
    checking = true
    void checkOutcomes()
      .catch((error) => emit({kind: 'warning', message: `replay outcomes: ${describeNatsError(error).error}`}))
      .finally(() => (checking = false))
  }, OUTCOME_CHECK_MS)
  timer.unref()

  void (async () => {
    for await (const e of watch) {
      if (signal.aborted) break
      // A dead letter's own entry, or each confirmed item of a replay journal (ledger.ts).
      const change = {
        key: e.key,
        value: e.value,
        deleted: e.operation !== 'PUT',
        stored: e.created.getTime(),
        seq: e.revision,
      }
      for (const {key, entry} of ledgerEntriesOf(change)) {
        const ref = refFromLedgerKey(key)
        if (!ref) continue
        replays.delete(key)
        if (!isHandled(entry.action)) continue
        if (entry.action !== 'replayed') {
          await rewrite(ref, 'handled', change.stored)
          continue
        }
        // A replay: its copy follows the replay's outcome (checkOutcomes, within OUTCOME_CHECK_MS), handled
        // while the replay has not failed again. Nothing is written before the outcome is asked for, so a
        // restart does not mark the copy of an old failed replay handled, even for a moment.
        const archived = await facts
          .current()
          .reader.archived(ref.stream, ref.seq)
          .catch(() => null)
        const id = archived ? parseEnvelope(archived.data)?.id : undefined
        const record = replayRecordOf(key, entry, typeof id === 'string' ? id : null)
        if (record) replays.set(key, {ref, record, stored: change.stored})
      }
    }
  })().catch(() => {})
  return () => {
    clearInterval(timer)
    watch.stop()
  }
}

/** The copy's stream incarnation existed when the ledger entry was written. */
function archivedBefore(archived: ArchivedOriginal, ledgerWrittenMs: number): boolean {
  const created = Date.parse(archived.stream_created ?? '')
  return !Number.isFinite(created) || created <= ledgerWrittenMs
}

/** `<host>-<pid>`, in the characters a KV key allows. */
function instanceName(): string {
  return `${hostname()}-${process.pid}`.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 100)
}

async function openBucket(conn: SiteConnection, name: string): Promise<KV | null> {
  const {Kvm} = await import('@nats-io/kv')
  try {
    const kv = await new Kvm(await conn.js()).open(name)
    await kv.status()
    return kv
  } catch (error) {
    if (isStreamNotFound(error)) return null
    throw error
  }
}

function parseJson(value: Uint8Array): unknown {
  try {
    return JSON.parse(new TextDecoder().decode(value)) as unknown
  } catch {
    return undefined
  }
}
