import type {KV} from '@nats-io/kv'

import {DLQ_LEDGER_BUCKET} from '../layout/names.js'
import type {SiteConnection} from '../nats/connection.js'
import {isStreamNotFound} from '../nats/errors.js'
import {readStream, StreamMissing} from '../nats/reader.js'
import {type HistoryEntry, LedgerEntry} from './model.js'
import {formatRef, ledgerKey, refFromLedgerKey} from './ref.js'

/**
 * The dead-letter ledger (docs/operations.md, "Replaying safely"; the format is in docs/architecture.md, "The
 * dead-letter ledger"): KV bucket `dv_dlq_ledger`. Two kinds of key:
 *
 * - `<stream>.<seq>`, one per dead letter, written by `dlq discard` (and by replays of dvctl before issue 17):
 *   its history (64 entries) is that dead letter's own part of the audit trail;
 * - `_replays.<run>.<chunk>`, one per chunk of a replay run (a replay journal): written once before any
 *   copy of the chunk is sent (`replaying`: each dead letter with the replay id its copy carries) and once
 *   after (`replayed`: the same items, each acknowledged one with the sequence its copy got). An item
 *   without a sequence in a journal's last value was started and not confirmed; a re-run reuses its replay
 *   id (the Nats-Msg-Id), so JetStream de-duplicates what was already sent.
 *
 * So a bulk replay costs two ledger writes per chunk instead of one per dead letter, and each dead letter's
 * state (last action, generation, replay in progress) and audit trail are derived from both kinds of key,
 * ordered by the bucket's revision (its stream sequence).
 */
export const JOURNAL_PREFIX = '_replays'

export interface JournalItem {
  key: string
  ref: string
  replay_id: string
  generation: number
  to_subject: string
  /** Stream the replay is published into, searched for the replay id when resuming after the duplicate window. */
  stream?: string
  /** Set in the `replayed` record: the sequence the acknowledged copy got. Absent: not confirmed. */
  new_seq?: number
  /** `--edit`: the id of the new envelope that was sent. */
  new_id?: string | null
  /** The acknowledged copy was a JetStream duplicate of one stored by an earlier, interrupted run. */
  duplicate?: boolean
}

export interface ReplayJournal {
  /** `replaying`: written before the chunk is sent; `replayed`: after, with each confirmed item's `new_seq`. */
  action: 'replaying' | 'replayed'
  actor: string
  /** When the chunk was started (the `replaying` record); a resume searches for copies stored since. */
  at: string
  /**
   * In the `replayed` record: when the server stored the `replaying` record, before any copy of the chunk.
   * Replay outcomes are joined from it (outcome.ts), never from the replaying client's clock (`at`).
   */
  stored_at?: string
  /** When the chunk was finished (the `replayed` record). */
  done_at?: string
  reason: string | null
  items: JournalItem[]
}

/** What a replay or a listing needs to know of the ledger, read in one pass over the bucket. */
export interface LedgerState {
  last: Map<string, LedgerEntry>
  /**
   * When the server stored each key's last entry (ms): an entry stored before its stream was (re)created
   * belongs to an earlier incarnation of that stream, whose sequence numbers are reused.
   */
  stored: Map<string, number>
  /** Highest replay generation ever recorded per key (journals included). */
  generation: Map<string, number>
  /** Replays started and not confirmed, by key, with when and by whom they were started. */
  inFlight: Map<string, JournalItem & {journal: string; at: string; stored?: number}>
}

export const emptyLedgerState = (): LedgerState => ({
  last: new Map(),
  stored: new Map(),
  generation: new Map(),
  inFlight: new Map(),
})

export class Ledger {
  private constructor(
    readonly kv: KV,
    private readonly conn: SiteConnection,
  ) {}

  /** Opens the bucket; with `create`, creates it (history 64) when the layout has not. Null when absent. */
  static async open(conn: SiteConnection, options: {create: boolean}): Promise<Ledger | null> {
    const {Kvm} = await import('@nats-io/kv')
    const kvm = new Kvm(await conn.js())
    try {
      const kv = await kvm.open(DLQ_LEDGER_BUCKET)
      await kv.status()
      return new Ledger(kv, conn)
    } catch (error) {
      if (!isStreamNotFound(error)) throw error
      if (!options.create) return null
      return new Ledger(await kvm.create(DLQ_LEDGER_BUCKET, {history: 64}), conn)
    }
  }

  /**
   * Reads the last value of every key once (an ordered consumer, deliver last per subject), so a listing
   * costs one message per dead letter acted on by hand and one per replay chunk, however long the history:
   * last action per dead letter (the latest by revision, from its own key or a journal), generations, and
   * the replays started and not confirmed.
   */
  async load(): Promise<LedgerState> {
    const values: LedgerChange[] = []
    for await (const e of ledgerChanges(this.conn)) values.push(e)
    return foldLedger(values)
  }

  /**
   * The confirmed replays of the journals, as audit-trail entries (`only`: of one key). For one key, only the
   * journals whose bytes hold the key as JSON writes it (`"<stream>.<seq>"`, as writeJournal stores it) are
   * parsed: a site's journals hold up to 1,000 items each, and `dlq show` wants one dead letter's.
   */
  private async journalHistory(only?: string): Promise<Array<{key: string; entry: LedgerEntry; revision: number}>> {
    const out: Array<{key: string; entry: LedgerEntry; revision: number}> = []
    const needle = only === undefined ? undefined : new TextEncoder().encode(JSON.stringify(only))
    for await (const e of ledgerChanges(this.conn, undefined, `${JOURNAL_PREFIX}.>`, needle)) {
      const journal = e.deleted ? undefined : parseJournal(e.value)
      if (!journal) continue
      for (const item of journal.items) {
        if (only !== undefined && item.key !== only) continue
        const entry = journalEntry(journal, item)
        if (entry) out.push({key: item.key, entry, revision: e.seq})
      }
    }
    return out
  }

  /** The audit trail of one dead letter, oldest first: its own key's history and the journals' records of it. */
  async history(key: string, ref: string): Promise<HistoryEntry[]> {
    const out: HistoryEntry[] = []
    const iter = await this.kv.history({key})
    for await (const e of iter) {
      if (e.operation !== 'PUT') continue
      const entry = LedgerEntry.safeParse(parseJson(e.value))
      if (entry.success) out.push({...entry.data, ref, revision: e.revision})
    }
    for (const j of await this.journalHistory(key)) out.push({...j.entry, ref, revision: j.revision})
    return out.sort((a, b) => a.revision - b.revision)
  }

  /** Every dead letter's audit trail (`dlq history` without a ref), in revision order. */
  async allHistory(qualify?: string): Promise<HistoryEntry[]> {
    const out: HistoryEntry[] = []
    const qualified = (key: string) => {
      const ref = refFromLedgerKey(key)
      return ref ? formatRef({...ref, site: qualify}, Boolean(qualify)) : undefined
    }
    const iter = await this.kv.history()
    for await (const e of iter) {
      const ref = qualified(e.key)
      if (!ref || e.operation !== 'PUT') continue
      const entry = LedgerEntry.safeParse(parseJson(e.value))
      if (entry.success) out.push({...entry.data, ref, revision: e.revision})
    }
    for (const j of await this.journalHistory()) {
      const ref = qualified(j.key)
      if (ref) out.push({...j.entry, ref, revision: j.revision})
    }
    return out.sort((a, b) => a.revision - b.revision)
  }

  async record(ref: {stream: string; seq: number}, entry: LedgerEntry): Promise<number> {
    return this.kv.put(ledgerKey(ref), JSON.stringify(entry))
  }

  /**
   * Writes a replay journal (its `replaying` or its `replayed` record); repeating the same write is safe
   * (the key's last value is what counts), so it is retried through a leader election.
   */
  async writeJournal(name: string, journal: ReplayJournal): Promise<number> {
    return this.kv.put(name, JSON.stringify(journal))
  }

  /** When the server stored a journal record (its revision): the time replay outcomes are joined from. */
  async storedAt(name: string, revision: number): Promise<string | undefined> {
    return (await this.kv.get(name, {revision}))?.created.toISOString()
  }
}

/** One write to the ledger bucket, as stored: a key's new value, or its deletion. */
export interface LedgerChange {
  key: string
  value: Uint8Array
  deleted: boolean
  /** When the server stored it (ms). */
  stored: number
  /** Its sequence in the bucket's stream: an incremental reader starts after the last one it saw. */
  seq: number
}

/**
 * The ledger bucket's writes: without `afterSeq`, the last entry of every key (what `Ledger.load` folds);
 * with it, every write stored after that sequence, in order (a follower: health/snapshot.ts reads only what
 * is new on each round). `keys`: a KV key filter (default every key); `needle`: only values holding these bytes
 * (the reader's raw pre-filter; a deletion holds none). A bucket that does not exist yields nothing.
 */
export async function* ledgerChanges(
  conn: SiteConnection,
  afterSeq?: number,
  keys = '>',
  needle?: Uint8Array,
): AsyncGenerator<LedgerChange> {
  const prefix = `$KV.${DLQ_LEDGER_BUCKET}.`
  const entries = readStream(
    conn,
    {stream: `KV_${DLQ_LEDGER_BUCKET}`, filterSubject: `${prefix}${keys}`, ...(needle ? {needle} : {})},
    {start: afterSeq === undefined ? 'last-per-subject' : {seq: afterSeq + 1}, headers: true},
  )
  try {
    for await (const m of entries) {
      const op = m.headers?.['KV-Operation']?.[0]
      yield {
        key: m.subject.slice(prefix.length),
        value: m.data,
        deleted: op === 'DEL' || op === 'PURGE',
        stored: Date.parse(m.time),
        seq: m.seq,
      }
    }
  } catch (error) {
    if (error instanceof StreamMissing) return
    throw error
  }
}

/**
 * The dead letters' entries a change carries: a dead letter's own key's entry, or each confirmed item of a
 * replay journal's `replayed` record (docs/architecture.md, "The dead-letter ledger"); none for a deletion,
 * a journal's `replaying` record or anything that is not an entry.
 */
export function ledgerEntriesOf(change: LedgerChange): Array<{key: string; entry: LedgerEntry}> {
  if (change.key.startsWith(`${JOURNAL_PREFIX}.`)) {
    const journal = change.deleted ? undefined : parseJournal(change.value)
    if (!journal) return []
    return journal.items.flatMap((item) => {
      const entry = journalEntry(journal, item)
      return entry ? [{key: item.key, entry}] : []
    })
  }
  const entry = ledgerEntryOf(change)
  return entry ? [{key: change.key, entry}] : []
}

/** The ledger entry a change carries; null for a deletion, a journal or anything that is not an entry. */
export function ledgerEntryOf(change: LedgerChange): LedgerEntry | null {
  if (change.deleted || !refFromLedgerKey(change.key)) return null
  const entry = LedgerEntry.safeParse(parseJson(change.value))
  return entry.success ? entry.data : null
}

/** A fresh journal key for one chunk of one replay run. */
export function journalKey(run: string, chunk: number): string {
  return `${JOURNAL_PREFIX}.${run}.${chunk}`
}

/**
 * The ledger's state from the last value of each key (docs/architecture.md, "The dead-letter ledger"): each
 * dead letter's latest action by revision, from its own key or a journal's confirmed item; the highest
 * generation; and the journal items no record confirms (replays in progress).
 */
export function foldLedger(values: Iterable<LedgerChange>): LedgerState {
  const state = emptyLedgerState()
  const revisionOf = new Map<string, number>()
  /** Replay ids whose copy is confirmed, per key: a journal item among them is not in flight. */
  const confirmed = new Map<string, Set<string>>()
  const open: Array<{item: JournalItem; journal: string; at: string; stored: number; revision: number}> = []
  const consider = (key: string, entry: LedgerEntry, stored: number, revision: number) => {
    bump(state.generation, key, entry.generation ?? 0)
    if (entry.action === 'replayed' && entry.replay_id) addTo(confirmed, key, entry.replay_id)
    if ((revisionOf.get(key) ?? -1) > revision) return
    revisionOf.set(key, revision)
    state.last.set(key, entry)
    state.stored.set(key, stored)
  }
  for (const e of values) {
    if (e.key.startsWith(`${JOURNAL_PREFIX}.`)) {
      const journal = e.deleted ? undefined : parseJournal(e.value)
      if (!journal) continue
      for (const item of journal.items) {
        const entry = journalEntry(journal, item)
        if (entry) consider(item.key, entry, e.stored, e.seq)
        else {
          bump(state.generation, item.key, item.generation)
          open.push({item, journal: e.key, at: journal.at, stored: e.stored, revision: e.seq})
        }
      }
      continue
    }
    if (e.deleted || !refFromLedgerKey(e.key)) continue
    const entry = LedgerEntry.safeParse(parseJson(e.value))
    if (entry.success) consider(e.key, entry.data, e.stored, e.seq)
  }
  // The latest unconfirmed start of each key wins (a resumed replay is written again by its re-run).
  open.sort((a, b) => a.revision - b.revision)
  for (const {item, journal, at, stored} of open) {
    if (confirmed.get(item.key)?.has(item.replay_id)) continue
    state.inFlight.set(item.key, {...item, journal, at, stored})
  }
  return state
}

/**
 * A journal item's confirmed replay as a ledger entry (what `dlq history` shows and a listing's
 * `last_action` is), or undefined while it is not confirmed.
 */
function journalEntry(journal: ReplayJournal, item: JournalItem): LedgerEntry | undefined {
  if (journal.action !== 'replayed' || typeof item.new_seq !== 'number') return undefined
  return {
    action: 'replayed',
    actor: journal.actor,
    at: journal.done_at ?? journal.at,
    reason: journal.reason,
    replay_id: item.replay_id,
    generation: item.generation,
    new_seq: item.new_seq,
    to_subject: item.to_subject,
    new_id: item.new_id ?? null,
    // The server's time; a journal written before it was recorded has only the client's.
    started_at: journal.stored_at ?? journal.at,
  }
}

/** A journal as stored, or undefined when it is not one (the bucket is writable by others: untrusted). */
function parseJournal(value: Uint8Array): ReplayJournal | undefined {
  const j = parseJson<ReplayJournal>(value)
  if (!j || typeof j !== 'object' || !Array.isArray(j.items)) return undefined
  if (typeof j.actor !== 'string' || typeof j.at !== 'string') return undefined
  const items = j.items.filter(
    (i): i is JournalItem =>
      Boolean(i) &&
      typeof i.key === 'string' &&
      typeof i.ref === 'string' &&
      typeof i.replay_id === 'string' &&
      typeof i.generation === 'number' &&
      typeof i.to_subject === 'string' &&
      (i.new_seq === undefined || typeof i.new_seq === 'number'),
  )
  return {
    action: j.action === 'replayed' ? 'replayed' : 'replaying',
    actor: j.actor,
    at: j.at,
    ...(typeof j.stored_at === 'string' && Number.isFinite(Date.parse(j.stored_at)) ? {stored_at: j.stored_at} : {}),
    ...(typeof j.done_at === 'string' ? {done_at: j.done_at} : {}),
    reason: typeof j.reason === 'string' ? j.reason : null,
    items,
  }
}

function addTo(map: Map<string, Set<string>>, key: string, value: string): void {
  const set = map.get(key)
  if (set) set.add(value)
  else map.set(key, new Set([value]))
}

function bump(map: Map<string, number>, key: string, generation: number): void {
  if (generation > (map.get(key) ?? 0)) map.set(key, generation)
}

const decoder = new TextDecoder()

function parseJson<T = unknown>(value: Uint8Array): T | undefined {
  try {
    return JSON.parse(decoder.decode(value)) as T
  } catch {
    return undefined
  }
}
