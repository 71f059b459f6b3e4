import {STREAMS} from '../layout/names.js'
import type {Layout} from '../layout/schema.js'
import type {SiteConnection} from '../nats/connection.js'
import {isStreamNotFound} from '../nats/errors.js'
import {notFound} from '../errors.js'
import {compareText} from '../order.js'
import {ledgerChanges, ledgerEntriesOf} from './ledger.js'
import type {DeadLetterReason, ReplayOutcome} from './model.js'
import {OriginalReader, parseEnvelope} from './original.js'
import {isHandled, replayRecordOf, type ReplayRecord, resolveOutcomes} from './outcome.js'
import {CLUSTER_CLOCK_SKEW_MS} from './provenance.js'
import {advisoriesAt, type AdvisoryRecord, checkOriginals, FETCH_WINDOW, scanAdvisories} from './read.js'
import {formatRef, ledgerKey} from './ref.js'

/** Pending dead letters of one stream, consumer and reason (the labels of `dvctl_dead_letters_pending`). */
export interface PendingGroup {
  stream: string
  consumer: string
  reason: DeadLetterReason
  count: number
  /** Age of the group's oldest pending dead letter. */
  oldest_age_ms: number
}

/** One pending dead letter, as far as a health view needs it (`dlq show REF` has the rest). */
export interface PendingLetter {
  /** `<stream>:<seq>`, not site-qualified. */
  ref: string
  stream: string
  seq: number
  consumer: string
  reason: DeadLetterReason
  /** When the server gave up on it: the advisory's timestamp, else when DV_DLQ stored the advisory. */
  dead_lettered_at: string
  age_ms: number
}

export interface PendingSummary {
  pending: number
  groups: PendingGroup[]
  oldest: PendingLetter | null
  /** The newest pending dead letters, newest first (at most RECENT). */
  recent: PendingLetter[]
  /** DV_DLQ messages read since the tracker started (valid or not): a counter. */
  advisories_read: number
}

/** How many of the newest pending dead letters a summary lists. */
export const RECENT = 20

interface Tracked {
  stream: string
  seq: number
  consumer: string
  reason: DeadLetterReason
  deadLetteredAt: number
  /** Where DV_DLQ stores its advisory: once DV_DLQ no longer holds it, `dlq list` no longer shows it either. */
  advisorySeq: number
  /** The original is gone or is provably not the message that failed (provenance.ts): `missing`, not pending. */
  missing: boolean
  /** Read from the dead-letter archive (its stream no longer had it): what the stream does next no longer matters. */
  archived: boolean
  /** The envelope id of the original (a byte-identical replayed copy carries it): the outcome join needs it. */
  id: string | null
  /** The ledger's last action on it (for the current incarnation of its stream). */
  action?: string
  /** When that action is a replay: the replay, and its outcome once one is known (outcome.ts). */
  replay?: ReplayRecord
  outcome?: ReplayOutcome['outcome']
}

/**
 * The pending dead letters of one site, kept up to date incrementally (issue 18: `metrics serve` runs for
 * days): each `refresh()` reads only what DV_DLQ and the ledger bucket stored since the last one, and the
 * status of a dead letter is decided as `dlq list` decides it:
 * - a new advisory's original is fetched and checked once (read.ts `checkOriginals`, provenance.ts): not
 *   provably the message that failed means `missing`;
 * - a handled dead letter (outcome.ts `isHandled`: discarded, or replayed with a last replay that has not
 *   failed again; the ledger recorded for the current incarnation of the stream) is not pending; one whose
 *   last replay failed or was dead-lettered again (`replay_failed`) is. The outcomes of replays without one
 *   yet are asked for on each refresh (from the oldest such replay on);
 * - afterwards, an original whose sequence fell below its stream's first sequence (aged out, purged), or
 *   that was deleted from the middle of its stream, or whose stream was deleted or recreated, is checked
 *   again the same way: kept pending when the dead-letter archive has it, else `missing`.
 *
 * Memory is bounded by what DV_DLQ holds: a dead letter whose advisory DV_DLQ no longer stores (its limits
 * aged it out) is forgotten, as `dlq list` forgets it. A DV_DLQ that was purged or recreated starts the
 * tracker over.
 */
export class PendingDeadLetters {
  private readonly letters = new Map<string, Tracked>()
  private lastDlqSeq: number | undefined
  private lastLedgerSeq: number | undefined
  private read = 0
  /**
   * Each command stream holding tracked dead letters, as last seen when they were checked: when it was created,
   * and how many messages it had deleted from between its first and last ones.
   */
  private readonly seen = new Map<string, {created: string; deleted: number}>()

  constructor(
    private readonly conn: SiteConnection,
    private readonly layout?: Layout,
  ) {}

  /** Reads what is new; throws (a UserError, or the client's error for nats/errors.ts to translate). */
  async refresh(): Promise<void> {
    await this.followDlq()
    // Streams before the ledger: a ledger record is judged against the stream incarnation it is about.
    await this.checkStreams()
    await this.followLedger()
    await this.followOutcomes()
  }

  summary(now: Date): PendingSummary {
    const groups = new Map<string, PendingGroup>()
    const pending: PendingLetter[] = []
    for (const t of this.letters.values()) {
      if (t.missing || isHandled(t.action, t.outcome)) continue
      const age = Math.max(0, now.getTime() - t.deadLetteredAt)
      pending.push({
        ref: formatRef({stream: t.stream, seq: t.seq}, false),
        stream: t.stream,
        seq: t.seq,
        consumer: t.consumer,
        reason: t.reason,
        dead_lettered_at: new Date(t.deadLetteredAt).toISOString(),
        age_ms: age,
      })
      const key = `${t.stream}\u0000${t.consumer}\u0000${t.reason}`
      const g = groups.get(key)
      if (g) {
        g.count++
        g.oldest_age_ms = Math.max(g.oldest_age_ms, age)
      } else groups.set(key, {stream: t.stream, consumer: t.consumer, reason: t.reason, count: 1, oldest_age_ms: age})
    }
    pending.sort((a, b) => b.age_ms - a.age_ms || a.seq - b.seq)
    return {
      pending: pending.length,
      groups: [...groups.values()].sort(
        (a, b) =>
          compareText(a.stream, b.stream) || compareText(a.consumer, b.consumer) || compareText(a.reason, b.reason),
      ),
      oldest: pending[0] ?? null,
      recent: pending.slice(-RECENT).reverse(),
      advisories_read: this.read,
    }
  }

  /** Dead letters tracked (pending or not): what the tracker holds in memory. */
  get size(): number {
    return this.letters.size
  }

  private async followDlq(): Promise<void> {
    const jsm = await this.conn.jsm()
    let state
    try {
      state = (await jsm.streams.info(STREAMS.dlq)).state
    } catch (error) {
      if (!isStreamNotFound(error)) throw error
      this.reset()
      throw notFound(
        `Site ${this.conn.site.name} has no ${STREAMS.dlq} stream, so no dead letters are captured there.`,
        'dlq-stream-missing',
        'Apply the standard layout: dvctl layout apply.',
      )
    }
    // Purged or recreated: what was read no longer describes the stream.
    if (this.lastDlqSeq !== undefined && state.last_seq < this.lastDlqSeq) this.reset()
    for (const [key, t] of this.letters) if (t.advisorySeq < state.first_seq) this.letters.delete(key)

    const scan = await scanAdvisories(this.conn, {afterSeq: this.lastDlqSeq ?? 0})
    this.read += scan.lastSeq - (this.lastDlqSeq ?? 0)
    this.lastDlqSeq = scan.lastSeq
    if (scan.valid.size === 0) return
    await this.check(scan.valid.values())
  }

  /** Checks each record's original as `dlq list` does (its stream, else the archive) and tracks the letter. */
  private async check(records: Iterable<AdvisoryRecord>): Promise<void> {
    await checkOriginals(this.conn, records, this.layout, (record, original, missing) => {
      const a = record.advisory
      const key = ledgerKey({stream: a.stream, seq: a.stream_seq})
      const at = Date.parse(a.timestamp ?? record.time)
      const before = this.letters.get(key)
      const id = original ? parseEnvelope(original.data)?.id : undefined
      this.letters.set(key, {
        stream: a.stream,
        seq: a.stream_seq,
        consumer: a.consumer,
        reason: a.reason,
        deadLetteredAt: Number.isFinite(at) ? at : Date.parse(record.time),
        advisorySeq: record.seq,
        missing: missing !== null,
        archived: original?.source === 'archive',
        id: typeof id === 'string' ? id : null,
        // A dead letter replayed and then dead-lettered again keeps its ledger status, as in `dlq list`.
        ...(before ? {action: before.action, replay: before.replay, outcome: before.outcome} : {}),
      })
    })
  }

  private async followLedger(): Promise<void> {
    const skew = this.conn.nc.info?.cluster ? CLUSTER_CLOCK_SKEW_MS : 0
    for await (const change of ledgerChanges(this.conn, this.lastLedgerSeq)) {
      this.lastLedgerSeq = Math.max(this.lastLedgerSeq ?? 0, change.seq)
      // A record of an earlier incarnation of the stream (same key, another message) does not apply.
      const current = (t: Tracked) => {
        const created = Date.parse(this.seen.get(t.stream)?.created ?? '')
        return !(Number.isFinite(created) && change.stored + skew < created)
      }
      const own = this.letters.get(change.key)
      if (own && change.deleted && current(own)) setAction(own, undefined)
      // A dead letter's own entry, or each replay a journal confirms (one change names up to 1,000).
      for (const {key, entry} of ledgerEntriesOf(change)) {
        const t = this.letters.get(key)
        if (t && current(t)) setAction(t, entry.action, replayRecordOf(key, entry, t.id) ?? undefined)
      }
    }
    this.lastLedgerSeq ??= 0
  }

  /** The outcomes of the tracked replays that have none yet (outcome.ts), in two bounded reads for all. */
  private async followOutcomes(): Promise<void> {
    const open = [...this.letters.values()].filter(
      (t) => !t.missing && t.replay && (t.outcome === undefined || t.outcome === 'pending'),
    )
    if (open.length === 0) return
    const outcomes = await resolveOutcomes(
      this.conn,
      open.map((t) => t.replay!),
    )
    for (const t of open) t.outcome = outcomes.get(t.replay!.replay_id)?.outcome ?? 'pending'
  }

  /**
   * Originals that aged out of their stream, were deleted from its middle (its count of deleted messages
   * changed: those still there are read again), or whose stream went away, since they were checked are
   * checked again as `dlq list` checks them: the archive may have them (then they stay pending), else they
   * are missing.
   */
  private async checkStreams(): Promise<void> {
    const streams = new Set<string>()
    for (const t of this.letters.values()) if (!t.missing && !t.archived) streams.add(t.stream)
    const jsm = await this.conn.jsm()
    const gone: Tracked[] = []
    for (const stream of streams) {
      let info
      try {
        info = await jsm.streams.info(stream)
      } catch (error) {
        if (!isStreamNotFound(error)) throw error
      }
      const before = this.seen.get(stream)
      // The server leaves num_deleted out while it is 0.
      const now = info && {created: info.created, deleted: info.state.num_deleted ?? 0}
      if (now) this.seen.set(stream, now)
      else this.seen.delete(stream)
      const recreated = !now || (before !== undefined && before.created !== now.created)
      const holes = !recreated && before !== undefined && before.deleted !== now.deleted
      const present = new Map<number, Tracked>()
      for (const t of this.letters.values()) {
        if (t.stream !== stream || t.missing || t.archived) continue
        if (recreated || t.seq < info!.state.first_seq) gone.push(t)
        else if (holes) present.set(t.seq, t)
      }
      await new OriginalReader(this.conn).each(stream, [...present.keys()], FETCH_WINDOW, (seq, original) => {
        if (!original) gone.push(present.get(seq)!)
      })
    }
    if (gone.length === 0) return
    const records = await advisoriesAt(
      this.conn,
      gone.map((t) => t.advisorySeq),
    )
    // An advisory DV_DLQ no longer holds: the next refresh forgets the letter, as `dlq list` does.
    for (const t of gone) if (!records.has(t.advisorySeq)) t.missing = true
    await this.check(records.values())
  }

  private reset(): void {
    this.letters.clear()
    this.lastDlqSeq = undefined
  }
}

/** A new last action of a tracked dead letter: a replay's outcome is asked for afresh. */
function setAction(t: Tracked, action: string | undefined, replay?: ReplayRecord): void {
  t.action = action
  t.replay = action === 'replayed' ? replay : undefined
  t.outcome = undefined
}
