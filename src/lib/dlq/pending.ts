import {STREAMS} from '../layout/names.js'
import type {Layout} from '../layout/schema.js'
import type {SiteConnection} from '../nats/connection.js'
import {isStreamNotFound} from '../nats/errors.js'
import {notFound} from '../errors.js'
import {ledgerChanges, ledgerEntriesOf} from './ledger.js'
import type {DeadLetterReason} from './model.js'
import {CLUSTER_CLOCK_SKEW_MS} from './provenance.js'
import {checkOriginals, scanAdvisories} from './read.js'
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
  /** The ledger's last action is replayed or discarded. */
  resolved: boolean
}

/**
 * The pending dead letters of one site, kept up to date incrementally (issue 18: `metrics serve` runs for
 * days): each `refresh()` reads only what DV_DLQ and the ledger bucket stored since the last one, and the
 * status of a dead letter is decided as `dlq list` decides it:
 * - a new advisory's original is fetched and checked once (read.ts `checkOriginals`, provenance.ts): not
 *   provably the message that failed means `missing`;
 * - the ledger's last action `replayed` or `discarded` (recorded for the current incarnation of the stream)
 *   resolves it;
 * - afterwards, an original whose sequence fell below its stream's first sequence (aged out, purged), or
 *   whose stream was deleted or recreated, is `missing`. A single message deleted from the middle of a
 *   stream is not noticed until the tracker starts again (`dlq list` reads every original each time).
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
  /** When each command stream holding tracked dead letters was created, as seen when they were checked. */
  private readonly created = new Map<string, string>()

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
  }

  summary(now: Date): PendingSummary {
    const groups = new Map<string, PendingGroup>()
    const pending: PendingLetter[] = []
    for (const t of this.letters.values()) {
      if (t.missing || t.resolved) continue
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
          a.stream.localeCompare(b.stream) || a.consumer.localeCompare(b.consumer) || a.reason.localeCompare(b.reason),
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
    await checkOriginals(this.conn, scan.valid.values(), this.layout, (record, _original, missing) => {
      const a = record.advisory
      const key = ledgerKey({stream: a.stream, seq: a.stream_seq})
      const at = Date.parse(a.timestamp ?? record.time)
      this.letters.set(key, {
        stream: a.stream,
        seq: a.stream_seq,
        consumer: a.consumer,
        reason: a.reason,
        deadLetteredAt: Number.isFinite(at) ? at : Date.parse(record.time),
        advisorySeq: record.seq,
        missing: missing !== null,
        // A dead letter replayed and then dead-lettered again keeps its ledger status, as in `dlq list`.
        resolved: this.letters.get(key)?.resolved ?? false,
      })
    })
  }

  private async followLedger(): Promise<void> {
    const skew = this.conn.nc.info?.cluster ? CLUSTER_CLOCK_SKEW_MS : 0
    for await (const change of ledgerChanges(this.conn, this.lastLedgerSeq)) {
      this.lastLedgerSeq = Math.max(this.lastLedgerSeq ?? 0, change.seq)
      // A record of an earlier incarnation of the stream (same key, another message) does not apply.
      const current = (t: Tracked) => {
        const created = Date.parse(this.created.get(t.stream) ?? '')
        return !(Number.isFinite(created) && change.stored + skew < created)
      }
      const own = this.letters.get(change.key)
      if (own && change.deleted && current(own)) own.resolved = false
      // A dead letter's own entry, or each replay a journal confirms (one change names up to 1,000).
      for (const {key, entry} of ledgerEntriesOf(change)) {
        const t = this.letters.get(key)
        if (t && current(t)) t.resolved = entry.action === 'replayed' || entry.action === 'discarded'
      }
    }
    this.lastLedgerSeq ??= 0
  }

  /** Originals that aged out or whose stream went away since they were checked are `missing` now. */
  private async checkStreams(): Promise<void> {
    const streams = new Set<string>()
    for (const t of this.letters.values()) if (!t.missing) streams.add(t.stream)
    const jsm = await this.conn.jsm()
    for (const stream of streams) {
      let info
      try {
        info = await jsm.streams.info(stream)
      } catch (error) {
        if (!isStreamNotFound(error)) throw error
      }
      const before = this.created.get(stream)
      if (info) this.created.set(stream, info.created)
      else this.created.delete(stream)
      const recreated = !info || (before !== undefined && before !== info.created)
      for (const t of this.letters.values()) {
        if (t.stream !== stream || t.missing) continue
        if (recreated || t.seq < info!.state.first_seq) t.missing = true
      }
    }
  }

  private reset(): void {
    this.letters.clear()
    this.lastDlqSeq = undefined
  }
}
