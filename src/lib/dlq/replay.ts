import {setTimeout as delay} from 'node:timers/promises'

import type {MsgHdrs} from '@nats-io/transport-node'

import {usageError} from '../errors.js'
import type {SiteConnection} from '../nats/connection.js'
import {classifyNatsError, describeNatsError, type NatsFailureKind} from '../nats/errors.js'
import {retryTransient} from '../nats/transient.js'
import {readStream} from '../nats/reader.js'
import {emptyLedgerState, journalKey, Ledger, type LedgerState, type ReplayJournal} from './ledger.js'
import type {DlqReplayResult, SkippedItem} from './model.js'
import {type OriginalMessage, OriginalReader} from './original.js'
import {decideReplay, type ReplayItem} from './plan.js'
import {replayTargetProblem} from './provenance.js'
import {mapPool} from './pool.js'
import {formatRef, ledgerKey, parseRef, type DeadLetterRef} from './ref.js'
import {readDeadLetters, type DeadLetterSelection} from './read.js'

/** Headers of a replayed copy (docs/operations.md, dead letters); Nats-Msg-Id is the replay id. */
export const REPLAY_HEADERS = {
  of: 'Dv-Replay-Of',
  id: 'Dv-Replay-Id',
  by: 'Dv-Replayed-By',
} as const

/** Publishes in flight at once: enough to keep the server busy, bounded so memory stays flat. */
const PUBLISH_WINDOW = 256
/** Dead letters per replay journal (one ledger write before a whole chunk is published). */
const JOURNAL_CHUNK = 1000

export interface ReplaySelection {
  /** Explicit references (`dlq replay REF...`). */
  refs?: string[]
  /** `--all` with the list filters. */
  all?: DeadLetterSelection
}

export interface ReplayPlanOptions extends ReplaySelection {
  force: boolean
  toSubject?: string
}

export interface ReplayPlan {
  items: ReplayItem[]
  skipped: SkippedItem[]
  /** Explicit refs with no dead letter behind them. */
  notFound: string[]
  ledger: LedgerState
}

/** Which dead letters a replay would send, where, with which replay id; and which it skips and why. */
export async function planReplay(conn: SiteConnection, options: ReplayPlanOptions): Promise<ReplayPlan> {
  const ledgerHandle = await Ledger.open(conn, {create: false})
  const ledger = ledgerHandle ? await ledgerHandle.load() : emptyLedgerState()
  const refs = options.refs?.map((r) => localRef(conn, r))
  const letters = await readDeadLetters(conn, {
    ...(options.all ?? {}),
    status: refs ? 'all' : (options.all?.status ?? 'pending'),
    ...(refs ? {refs: new Set(refs.map((r) => formatRef(r)))} : {}),
    qualified: false,
    ledger,
  })
  const plan: ReplayPlan = {items: [], skipped: [], notFound: [], ledger}
  if (refs) {
    const found = new Set(letters.map((l) => l.ref))
    for (const r of refs) if (!found.has(formatRef(r))) plan.notFound.push(formatRef(r))
  }
  for (const letter of letters) {
    const decision = decideReplay(letter, ledger, options)
    if ('item' in decision) plan.items.push(decision.item)
    else plan.skipped.push({ref: letter.ref, reason: decision.skip})
  }
  for (const ref of plan.notFound) plan.skipped.push({ref, reason: 'no such dead letter (no advisory in DV_DLQ)'})
  return plan
}

export interface ReplayRunOptions {
  actor: string
  reason: string | null
  /** Messages per second at most (`--rate`); unset means as fast as acks come back. */
  ratePerSecond?: number
  /** `--edit`: the envelope to send instead of the original, for the one planned item. */
  edited?: {data: Uint8Array; id: string}
  onProgress?: (done: number, total: number) => void
  /** Called after a copy is acknowledged and before the ledger records it (tests simulate a crash here). */
  onPublished?: (item: ReplayItem, seq: number) => void
  signal?: AbortSignal
}

/**
 * Sends the planned copies (docs/operations.md, dead letters): byte-identical data, the original's own headers plus
 * Dv-Replay-Of/-Id/-Replayed-By, Nats-Msg-Id = replay id. Per chunk: the journal is written and acknowledged
 * (before), the copies are published pipelined, each acknowledged copy is recorded on its dead letter's key
 * (after), and the journal is closed, which confirms those records. A run interrupted anywhere is finished by running it again: the same replay ids
 * make JetStream drop copies already stored (within the stream's duplicate window), and after that window
 * the target stream is searched for the replay id before anything is sent.
 *
 * A run that loses its site (the connection drops, or a publish times out or finds no responder) stops at
 * once: what was acknowledged is `replayed`, what was sent and not acknowledged is `failed` (it may have
 * been stored; the journal written before the chunk lets a re-run finish it without a second copy), and
 * the rest is `not_attempted`.
 */
export async function runReplay(
  conn: SiteConnection,
  plan: ReplayPlan,
  options: ReplayRunOptions,
): Promise<DlqReplayResult> {
  const result: DlqReplayResult = {
    dry_run: false,
    plan: planJson(plan),
    replayed: [],
    skipped: [...plan.skipped],
    failed: [],
    not_attempted: [],
  }
  if (plan.items.length === 0) return result
  const loss = new SiteLoss(conn)
  try {
    await sendAll(conn, plan, options, result, loss)
  } finally {
    loss.stop()
  }
  return result
}

async function sendAll(
  conn: SiteConnection,
  plan: ReplayPlan,
  options: ReplayRunOptions,
  result: DlqReplayResult,
  loss: SiteLoss,
): Promise<void> {
  const stopped = () => loss.reason !== undefined || options.signal?.aborted === true
  const notAttempted = (items: ReplayItem[]) => {
    for (const planned of planJson({items})) result.not_attempted.push(planned)
  }
  let ledger: Ledger
  let js: Awaited<ReturnType<SiteConnection['js']>>
  try {
    ledger = (await loss.race(Ledger.open(conn, {create: true})))!
    js = await conn.js()
  } catch (error) {
    loss.markIfSiteLevel(error)
    if (!loss.reason) throw error
    notAttempted(plan.items)
    return
  }
  const {headers} = await import('@nats-io/transport-node')
  const reader = new OriginalReader(conn)
  const run = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`
  const pace = pacer(options.ratePerSecond, options.signal)
  const total = plan.items.length
  let done = 0

  const chunkAt = (start: number) => plan.items.slice(start, start + JOURNAL_CHUNK)
  // The next chunk's originals are read while this chunk is published (two chunks in memory at most).
  let nextOriginals = readChunkOriginals(reader, chunkAt(0))
  nextOriginals.catch(() => {})
  for (let start = 0, chunk = 0; start < total; start += JOURNAL_CHUNK, chunk++) {
    const items = chunkAt(start)
    if (stopped()) {
      notAttempted(items)
      continue
    }
    const originalsRead = nextOriginals
    nextOriginals =
      start + JOURNAL_CHUNK < total
        ? readChunkOriginals(reader, chunkAt(start + JOURNAL_CHUNK))
        : Promise.resolve(new Map())
    nextOriginals.catch(() => {})
    const journal = journalKey(run, chunk)
    const at = new Date().toISOString()
    const journalValue: ReplayJournal = {
      action: 'replaying',
      actor: options.actor,
      at,
      reason: options.reason,
      items: items.map((i) => ({
        key: i.key,
        ref: i.letter.ref,
        replay_id: i.replay_id,
        generation: i.generation,
        to_subject: i.subject,
      })),
    }
    let originals: Map<string, OriginalMessage>
    try {
      // Journal writes repeat safely (same key, same value), so a leader election in between is waited out.
      await loss.race(retryTransient(() => ledger.openJournal(journal, journalValue)))
      originals = await loss.race(originalsRead)
    } catch (error) {
      // Nothing of this chunk was published; should the journal have been stored, a re-run resumes its
      // items with the same replay ids, which is still one copy each.
      loss.markIfSiteLevel(error)
      if (!loss.reason) throw error
      notAttempted(items)
      continue
    }
    let chunkFailed = false
    const records: Array<Promise<void>> = []
    await mapPool(items, PUBLISH_WINDOW, async (item) => {
      if (stopped()) {
        notAttempted([item])
        return
      }
      const attempt = {published: false}
      try {
        const sent = await loss.race(sendOne(item, originals, attempt))
        options.onPublished?.(item, sent.seq)
        const replayed = {
          ref: item.letter.ref,
          subject: item.subject,
          replay_id: item.replay_id,
          new_seq: sent.seq,
          duplicate: sent.duplicate,
          new_id: options.edited?.id ?? null,
        }
        result.replayed.push(replayed)
        const entry = {
          action: 'replayed' as const,
          actor: options.actor,
          at: new Date().toISOString(),
          reason: options.reason,
          replay_id: item.replay_id,
          generation: item.generation,
          new_seq: sent.seq,
          to_subject: item.subject,
          new_id: options.edited?.id ?? null,
        }
        records.push(
          ledger.recordPipelined(item.letter, entry, `${item.replay_id}.ledger`).catch((error: unknown) => {
            // The copy is stored; its record is not. The journal stays open, so a re-run records it
            // (the same replay id finds the stored copy) instead of sending another.
            chunkFailed = true
            result.replayed.splice(result.replayed.indexOf(replayed), 1)
            result.failed.push({
              ref: item.letter.ref,
              error: `copy stored (seq ${sent.seq}), ledger not written: ${describe(error)}; run again to record it`,
            })
          }),
        )
      } catch (error) {
        // Stopped before its publish (waiting for its turn under --rate, or looking for an earlier copy).
        if (error instanceof NotSent || (error instanceof SiteLost && !attempt.published)) {
          notAttempted([item])
          return
        }
        chunkFailed = true
        const siteLevel = loss.markIfSiteLevel(error)
        result.failed.push({
          ref: item.letter.ref,
          error: siteLevel
            ? `${describe(error)}: not confirmed, the copy may or may not be stored; run the same command again to finish it (no second copy is sent)`
            : describe(error),
        })
      }
      options.onProgress?.(++done, total)
    })
    if (loss.disconnected) continue
    // Every ledger entry of the chunk is acknowledged before its journal closes (see recordPipelined).
    // A chunk with failures keeps its journal: a re-run resumes those items with the same replay ids.
    try {
      await loss.race(Promise.all(records))
      if (!chunkFailed && !stopped()) await loss.race(retryTransient(() => ledger.closeJournal(journal)))
      else await loss.race(retryTransient(() => ledger.openJournal(journal, journalValue)))
    } catch (error) {
      loss.markIfSiteLevel(error)
      if (!loss.reason) throw error
    }
  }

  async function sendOne(
    item: ReplayItem,
    originals: Map<string, OriginalMessage>,
    attempt: {published: boolean},
  ): Promise<{seq: number; duplicate: boolean}> {
    if (item.resume) {
      const seq = await findStoredReplay(conn, item)
      if (seq !== undefined) return {seq, duplicate: true}
    }
    const original = originals.get(item.key)
    if (!original) throw new ItemRefused('the original message is gone (deleted or aged out)')
    // The stream may have changed since the plan was made (recreated, the message deleted): only the
    // message that was checked against its advisory is sent.
    if (original.subject !== item.letter.subject || original.time !== item.letter.original_time) {
      throw new ItemRefused(
        `the message at ${item.letter.stream}:${item.letter.seq} changed since the plan was made; nothing was sent`,
      )
    }
    const h: MsgHdrs = headers()
    for (const [k, values] of Object.entries(original.headers)) {
      if (/^Nats-/i.test(k) || /^Dv-Replay/i.test(k)) continue
      for (const v of values) h.append(k, v)
    }
    h.set(REPLAY_HEADERS.of, `${item.letter.stream}:${item.letter.seq}`)
    h.set(REPLAY_HEADERS.id, item.replay_id)
    h.set(REPLAY_HEADERS.by, options.actor)
    await pace()
    if (stopped()) throw new NotSent()
    const data = options.edited?.data ?? original.data
    guardReplayTarget(item.subject)
    attempt.published = true
    // Safe to repeat: the replay id is the Nats-Msg-Id, so a copy stored before its ack was lost (the
    // stream's leader died) comes back as a duplicate rather than a second copy.
    const ack = await retryTransient(() => js.publish(item.subject, data, {msgID: item.replay_id, headers: h}), {
      signal: options.signal,
    })
    return {seq: ack.seq, duplicate: ack.duplicate}
  }
}

/**
 * The last check before anything is published: a replay only ever sends to a command subject of the
 * taxonomy, never into a server or client namespace (`$JS.`, `$KV.`, `$SYS.`, `$O.`, `_INBOX.`), whatever
 * the plan, the ledger's journal or an advisory said.
 */
export function guardReplayTarget(subject: string): void {
  const problem = replayTargetProblem(subject)
  if (problem) throw new ItemRefused(`refused to publish: ${problem}`)
}

/** An item dvctl itself refused to send; its message is our own wording. */
class ItemRefused extends Error {}

/** An item the run stopped before sending (it belongs to `not_attempted`, not `failed`). */
class NotSent extends Error {}

/** The site was lost while something was waiting on it. */
class SiteLost extends Error {}

/** Failures that say the site, not the one request, is the problem. */
const SITE_LEVEL = new Set<NatsFailureKind>([
  'timeout',
  'no-responders',
  'unavailable',
  'disconnected',
  'closed',
  'refused',
  'unreachable',
])

/**
 * Watches one site's connection during a replay: a drop (the client reports a disconnect; it would
 * otherwise reconnect and let each publish wait for its timeout) or a publish that fails for site-level
 * reasons stops the run at once.
 */
class SiteLoss {
  reason: string | undefined
  disconnected = false
  private signal!: (reason: string) => void
  private readonly lost = new Promise<string>((resolve) => (this.signal = resolve))
  private readonly status: AsyncIterable<{type: string}> & {stop?: () => void}

  constructor(private readonly conn: SiteConnection) {
    const status = conn.nc.status() as AsyncIterable<{type: string}> & {stop?: () => void}
    this.status = status
    void (async () => {
      for await (const s of status) {
        if (s.type === 'disconnect' || s.type === 'close') {
          this.disconnected = true
          this.mark(`lost the connection to site ${conn.site.name}`)
        }
      }
    })().catch(() => {})
    void conn.nc.closed().then(() => {
      this.disconnected = true
      this.mark(`the connection to site ${conn.site.name} closed`)
    })
  }

  mark(reason: string): void {
    if (this.reason !== undefined) return
    this.reason = reason
    this.signal(reason)
  }

  /** Marks the site lost when `error` says it is unreachable (timeout, no responders, closed); true then. */
  markIfSiteLevel(error: unknown): boolean {
    if (this.disconnected) return true
    const failure = classifyNatsError(error)
    if (!SITE_LEVEL.has(failure.kind)) return false
    this.mark(`site ${this.conn.site.name} stopped answering (${failure.detail})`)
    return true
  }

  /** `promise`, unless the site is lost first (then it rejects at once instead of waiting for a timeout). */
  race<T>(promise: Promise<T>): Promise<T> {
    promise.catch(() => {})
    return Promise.race([
      promise,
      this.lost.then((reason) => {
        throw new SiteLost(reason)
      }),
    ])
  }

  stop(): void {
    this.status.stop?.()
  }
}

/** The originals of one chunk (at most JOURNAL_CHUNK in memory), read by range when they are dense. */
async function readChunkOriginals(reader: OriginalReader, items: ReplayItem[]): Promise<Map<string, OriginalMessage>> {
  const byStream = new Map<string, number[]>()
  for (const i of items) {
    const seqs = byStream.get(i.letter.stream)
    if (seqs) seqs.push(i.letter.seq)
    else byStream.set(i.letter.stream, [i.letter.seq])
  }
  const originals = new Map<string, OriginalMessage>()
  for (const [stream, seqs] of byStream) {
    await reader.each(stream, seqs, PUBLISH_WINDOW, (seq, original) => {
      if (original) originals.set(ledgerKey({stream, seq}), original)
    })
  }
  return originals
}

/** The plan as the JSON result shows it (and as `--dry-run` returns it). */
export function planJson(plan: Pick<ReplayPlan, 'items'>): DlqReplayResult['plan'] {
  return plan.items.map((i) => ({ref: i.letter.ref, subject: i.subject, replay_id: i.replay_id}))
}

/**
 * An interrupted replay older than the target stream's duplicate window is no longer protected by
 * Nats-Msg-Id: look for the copy itself (its Dv-Replay-Id header) on the target subject since the journal
 * was written, so a re-run never sends a second copy.
 */
async function findStoredReplay(conn: SiteConnection, item: ReplayItem): Promise<number | undefined> {
  const jsm = await conn.jsm()
  const stream = await jsm.streams.find(item.subject).catch(() => undefined)
  if (!stream) return undefined
  const info = await jsm.streams.info(stream)
  const windowMs = (info.config.duplicate_window ?? 0) / 1e6
  const since = Date.parse(item.resume!.at)
  if (Date.now() - since < windowMs - 5000) return undefined
  const copies = readStream(
    conn,
    {stream, filterSubject: item.subject},
    {start: {time: new Date(since - 1000)}, headers: true},
  )
  for await (const m of copies) {
    if (m.headers?.[REPLAY_HEADERS.id]?.includes(item.replay_id)) return m.seq
  }
  return undefined
}

/** A ref given on the command line, checked against the connected site when it is site-qualified. */
function localRef(conn: SiteConnection, text: string): DeadLetterRef {
  const ref = parseRef(text)
  if (ref.site && ref.site !== conn.site.name) {
    throw usageError(
      `${text} belongs to site ${ref.site}, but this command is connected to ${conn.site.name}.`,
      'wrong-site',
      `Run it with --site ${ref.site}.`,
    )
  }
  return ref
}

/**
 * `--rate N/s`: spaces publishes evenly; no-op when unset. A wait ends at once when the run is interrupted
 * (NotSent): under a slow rate most of a chunk is waiting for its turn, and Ctrl-C must not wait for it.
 */
function pacer(ratePerSecond: number | undefined, signal: AbortSignal | undefined): () => Promise<void> {
  if (!ratePerSecond) return async () => {}
  const interval = 1000 / ratePerSecond
  let next = Date.now()
  return async () => {
    const now = Date.now()
    const at = Math.max(now, next)
    next = at + interval
    if (at <= now) return
    await delay(at - now, undefined, signal ? {signal} : {}).catch(() => {
      throw new NotSent()
    })
  }
}

/** A failed item's `error`: our own refusal as it is, a client failure in our words (errors.ts). */
function describe(error: unknown): string {
  return error instanceof ItemRefused || error instanceof SiteLost ? error.message : describeNatsError(error).error
}

/** The original bytes of a planned item (for `--edit`). */
export async function readOriginalData(conn: SiteConnection, item: ReplayItem): Promise<Uint8Array | null> {
  const original = await new OriginalReader(conn).get(item.letter.stream, item.letter.seq)
  // The same message that was checked against its advisory when planning, or nothing.
  if (!original || original.subject !== item.letter.subject || original.time !== item.letter.original_time) return null
  return original.data
}
