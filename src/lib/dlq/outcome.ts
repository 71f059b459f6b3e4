import {STREAMS} from '../layout/names.js'
import type {SiteConnection} from '../nats/connection.js'
import {readStream, StreamMissing} from '../nats/reader.js'
import {compareText} from '../order.js'
import {parseAdvisory} from './advisory.js'
import {failureOf, failureOfTermReason} from './failures.js'
import type {Failure, HistoryEntry, LedgerEntry, ReplayOutcome} from './model.js'
import {parseEnvelope} from './original.js'

/** Task events whose state ends a task (docs/contract.md): what a replayed copy led to. */
const TERMINAL_TASK_STATES = new Set(['succeeded', 'failed', 'cancelled'])

/** One confirmed replay of a dead letter, as the ledger records it, with what its copy carries. */
export interface ReplayRecord {
  /** The dead letter's ledger key (`<stream>.<seq>`): replays of the same letter are told apart by time. */
  key: string
  replay_id: string
  /** The copy's sequence and subject. */
  seq: number
  to_subject: string
  /** When the replay was started (its copy is stored after it) and confirmed. */
  started_at: string
  at: string
  actor: string
  /** The copy's envelope id: the original's (byte-identical copy) or, for `--edit`, the new one. */
  copy_id: string | null
}

export interface ResolvedOutcome {
  outcome: ReplayOutcome['outcome']
  error: Failure | null
}

/**
 * Whether a dead letter is handled (docs/operations.md, "What a replay did"): discarded, or replayed with a last
 * replay that did not fail again. A letter whose last replay's outcome is `failed` or `dead_lettered` (status
 * `replay_failed`) still needs someone: it is pending. `lastReplay`: that outcome, when known (a replay without
 * one yet counts as handled until it fails). The one rule for the archive (a handled letter's copy may expire,
 * capture.ts; the state a listing archives it with, read.ts) and the pending count (pending.ts).
 */
export function isHandled(action: string | undefined, lastReplay?: ReplayOutcome['outcome']): boolean {
  if (action === 'discarded') return true
  return action === 'replayed' && lastReplay !== 'failed' && lastReplay !== 'dead_lettered'
}

/** A confirmed replay ledger entry as a record to resolve; null for anything else. */
export function replayRecordOf(key: string, entry: LedgerEntry, originalId: string | null): ReplayRecord | null {
  if (entry.action !== 'replayed' || !entry.replay_id || typeof entry.new_seq !== 'number' || !entry.to_subject)
    return null
  return {
    key,
    replay_id: entry.replay_id,
    seq: entry.new_seq,
    to_subject: entry.to_subject,
    started_at: entry.started_at ?? entry.at,
    at: entry.at,
    actor: entry.actor,
    copy_id: entry.new_id ?? originalId,
  }
}

/**
 * What followed each replayed copy (docs/operations.md, "What a replay did"), by replay id:
 * - `dead_lettered`: DV_DLQ holds an advisory for the copy itself (its stream and sequence);
 * - `failed` / `succeeded`: a terminal task event (`dv.task.evt.*`) caused by the copy (`causation_id` =
 *   the copy's envelope id), stored after the replay started and before the same letter's next replay;
 * - `pending`: neither yet.
 * Two bounded reads, whatever the number of replays: DV_DLQ and the task events, each from the earliest
 * replay on, keeping only what names a copy. Nothing is read when there is nothing to resolve.
 */
export async function resolveOutcomes(
  conn: SiteConnection,
  records: readonly ReplayRecord[],
): Promise<Map<string, ResolvedOutcome>> {
  const out = new Map<string, ResolvedOutcome>()
  if (records.length === 0) return out
  const from = new Date(Math.min(...records.map((r) => Date.parse(r.started_at) || 0)) - 1000)

  // The copy's stream: the one holding its subject (a few lookups, one per distinct subject).
  const jsm = await conn.jsm()
  const streamOf = new Map<string, string | undefined>()
  for (const r of records) {
    if (!streamOf.has(r.to_subject))
      streamOf.set(r.to_subject, await jsm.streams.find(r.to_subject).catch(() => undefined))
  }
  const byCopy = new Map<string, ReplayRecord>()
  for (const r of records) {
    const stream = streamOf.get(r.to_subject)
    if (stream) byCopy.set(`${stream}:${r.seq}`, r)
  }

  const deadLettered = new Map<string, Failure | null>()
  await readAll(readStream(conn, {stream: STREAMS.dlq}, {start: {time: from}}), (m) => {
    const a = parseAdvisory(m.data, m.subject)
    const r = a ? byCopy.get(`${a.stream}:${a.stream_seq}`) : undefined
    if (r) deadLettered.set(r.replay_id, a!.term_reason ? failureOfTermReason(a!.term_reason) : null)
  })

  // Replays of each copy id in time order: an event belongs to the latest replay started before it.
  const byId = new Map<string, ReplayRecord[]>()
  for (const r of records) {
    if (!r.copy_id) continue
    const list = byId.get(r.copy_id) ?? []
    list.push(r)
    byId.set(r.copy_id, list)
  }
  for (const list of byId.values()) list.sort((a, b) => compareText(a.started_at, b.started_at))
  const ended = new Map<string, ResolvedOutcome>()
  if (byId.size > 0) {
    await readAll(
      readStream(conn, {stream: STREAMS.task, filterSubject: 'dv.task.evt.>'}, {start: {time: from}}),
      (m) => {
        const state = m.subject.slice('dv.task.evt.'.length)
        if (!TERMINAL_TASK_STATES.has(state)) return
        const envelope = parseEnvelope(m.data)
        const cause = typeof envelope?.causation_id === 'string' ? envelope.causation_id : undefined
        const list = cause ? byId.get(cause) : undefined
        if (!list) return
        const at = Date.parse(m.time)
        let owner: ReplayRecord | undefined
        // No slack here: an event of an earlier copy must not be taken for the next replay's.
        for (const r of list) if (Date.parse(r.started_at) <= at) owner = r
        if (!owner || ended.has(owner.replay_id)) return
        ended.set(
          owner.replay_id,
          state === 'succeeded'
            ? {outcome: 'succeeded', error: null}
            : {outcome: 'failed', error: failureOf(envelope!)},
        )
      },
    )
  }

  for (const r of records) {
    const task = ended.get(r.replay_id)
    if (deadLettered.has(r.replay_id)) {
      out.set(r.replay_id, {outcome: 'dead_lettered', error: task?.error ?? deadLettered.get(r.replay_id) ?? null})
    } else out.set(r.replay_id, task ?? {outcome: 'pending', error: null})
  }
  return out
}

async function readAll<T>(messages: AsyncIterable<T>, fn: (m: T) => void): Promise<void> {
  try {
    for await (const m of messages) fn(m)
  } catch (error) {
    if (!(error instanceof StreamMissing)) throw error
  }
}

/**
 * Resolves the outcome of each confirmed replay in an audit trail, writes it onto its entry (`outcome`,
 * `error`) and returns the replays, oldest first. `originalId`: the envelope id a byte-identical copy of
 * the entry's dead letter carries (null when unknown: then only a new dead letter of the copy is found).
 */
export async function withOutcomes(
  conn: SiteConnection,
  history: HistoryEntry[],
  originalId: (entry: HistoryEntry) => string | null,
): Promise<ReplayOutcome[]> {
  const records = new Map<HistoryEntry, ReplayRecord>()
  for (const entry of history) {
    const record = replayRecordOf(entry.ref, entry, originalId(entry))
    if (record) records.set(entry, record)
  }
  const outcomes = await resolveOutcomes(conn, [...records.values()])
  const replays: ReplayOutcome[] = []
  for (const [entry, r] of records) {
    const o = outcomes.get(r.replay_id) ?? {outcome: 'pending' as const, error: null}
    entry.outcome = o.outcome
    entry.error = o.error
    replays.push({replay_id: r.replay_id, seq: r.seq, at: r.at, actor: r.actor, ...o})
  }
  return replays
}
