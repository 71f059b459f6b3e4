import type {KV} from '@nats-io/kv'

import {DLQ_LEDGER_BUCKET} from '../layout/names.js'
import type {SiteConnection} from '../nats/connection.js'
import {isStreamNotFound} from '../nats/errors.js'
import {readStream, StreamMissing} from '../nats/reader.js'
import {retryTransient} from '../nats/transient.js'
import {type HistoryEntry, LedgerEntry} from './model.js'
import {formatRef, ledgerKey, refFromLedgerKey} from './ref.js'

/**
 * The dead-letter ledger (docs/operations.md, "Replaying safely"): KV bucket `dv_dlq_ledger`, one key per dead letter
 * (`<stream>.<seq>`), whose history (64 entries) is the audit trail of what operators did.
 *
 * A replay writes the ledger before and after publishing. To keep replay close to the rate of plain
 * pipelined publishes, the "before" record is written once per chunk of dead letters as a replay journal
 * (`_replays.<run>.<chunk>`, listing each ref with its replay id); then each dead letter's own key gets its
 * `replayed` entry after its publish is acknowledged; the journal is deleted when the chunk is done. A
 * journal still present names replays that were started and not confirmed: a re-run reuses their replay
 * ids (the Nats-Msg-Id), so JetStream de-duplicates what was already sent.
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
}

export interface ReplayJournal {
  action: 'replaying'
  actor: string
  at: string
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
   * Reads the last entry of every key once (an ordered consumer, deliver last per subject), so a listing
   * costs one message per dead letter acted on, however long the history: last entry per dead letter,
   * generations, open journals.
   */
  async load(): Promise<LedgerState> {
    const state = emptyLedgerState()
    const journals = new Map<string, ReplayJournal & {stored: number}>()
    for await (const e of this.lastEntries()) {
      if (e.key.startsWith(`${JOURNAL_PREFIX}.`)) {
        const journal = e.deleted ? undefined : parseJson<ReplayJournal>(e.value)
        if (Array.isArray(journal?.items)) journals.set(e.key, {...journal, stored: e.stored})
        continue
      }
      if (e.deleted || !refFromLedgerKey(e.key)) continue
      const entry = LedgerEntry.safeParse(parseJson(e.value))
      if (!entry.success) continue
      state.last.set(e.key, entry.data)
      state.stored.set(e.key, e.stored)
      bump(state.generation, e.key, entry.data.generation ?? 0)
    }
    for (const [name, journal] of journals) {
      for (const item of journal.items) {
        bump(state.generation, item.key, item.generation)
        if (state.last.get(item.key)?.replay_id === item.replay_id) continue
        state.inFlight.set(item.key, {...item, journal: name, at: journal.at, stored: journal.stored})
      }
    }
    return state
  }

  private async *lastEntries(): AsyncGenerator<LedgerChange> {
    yield* ledgerChanges(this.conn)
  }

  /** The audit trail of one dead letter, oldest first. */
  async history(key: string, ref: string): Promise<HistoryEntry[]> {
    const out: HistoryEntry[] = []
    const iter = await this.kv.history({key})
    for await (const e of iter) {
      if (e.operation !== 'PUT') continue
      const entry = LedgerEntry.safeParse(parseJson(e.value))
      if (entry.success) out.push({...entry.data, ref, revision: e.revision})
    }
    return out
  }

  /** Every dead letter's audit trail (`dlq history` without a ref), oldest first. */
  async allHistory(qualify?: string): Promise<HistoryEntry[]> {
    const out: HistoryEntry[] = []
    const iter = await this.kv.history()
    for await (const e of iter) {
      const ref = refFromLedgerKey(e.key)
      if (!ref || e.operation !== 'PUT') continue
      const entry = LedgerEntry.safeParse(parseJson(e.value))
      if (entry.success)
        out.push({...entry.data, ref: formatRef({...ref, site: qualify}, Boolean(qualify)), revision: e.revision})
    }
    return out
  }

  async record(ref: {stream: string; seq: number}, entry: LedgerEntry): Promise<number> {
    return this.kv.put(ledgerKey(ref), JSON.stringify(entry))
  }

  /**
   * Writes an entry pipelined, for replays of many dead letters: the put is a JetStream publish to
   * `$KV.<bucket>.<key>` whose acknowledgement the caller awaits later, all of a chunk's together before
   * its journal is closed. Fire-and-forget with the journal write as a barrier is not enough on a cluster:
   * entries sent to a stream leader that dies are lost while the barrier lands on the new leader.
   * `writeId` (Nats-Msg-Id) makes a write repeated after a lost acknowledgement a no-op.
   */
  async recordPipelined(ref: {stream: string; seq: number}, entry: LedgerEntry, writeId: string): Promise<void> {
    const js = await this.conn.js()
    await retryTransient(() =>
      js.publish(`$KV.${DLQ_LEDGER_BUCKET}.${ledgerKey(ref)}`, JSON.stringify(entry), {msgID: writeId}),
    )
  }

  async openJournal(name: string, journal: ReplayJournal): Promise<void> {
    await this.kv.put(name, JSON.stringify(journal))
  }

  async closeJournal(name: string): Promise<void> {
    await this.kv.delete(name)
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
 * is new on each round). A bucket that does not exist yields nothing.
 */
export async function* ledgerChanges(conn: SiteConnection, afterSeq?: number): AsyncGenerator<LedgerChange> {
  const prefix = `$KV.${DLQ_LEDGER_BUCKET}.`
  const entries = readStream(
    conn,
    {stream: `KV_${DLQ_LEDGER_BUCKET}`, filterSubject: `${prefix}>`},
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
