import {setTimeout as delay} from 'node:timers/promises'

import type {SiteConnection} from '../nats/connection.js'
import {classifyNatsError, describeNatsError, type NatsFailureKind} from '../nats/errors.js'
import {AckedPublisher} from '../nats/publisher.js'
import {retryTransient} from '../nats/transient.js'
import {readStream} from '../nats/reader.js'
import {emptyLedgerState, journalKey, Ledger, type LedgerState, type ReplayJournal} from './ledger.js'
import type {DlqReplayResult, SkippedItem} from './model.js'
import type {CanaryCopy} from './canary.js'
import {type OriginalMessage, OriginalReader} from './original.js'
import {decideReplay, type ReplayItem} from './plan.js'
import {replayTargetProblem} from './provenance.js'
import {formatRef, ledgerKey, localRef} from './ref.js'
import {readDeadLetters, type DeadLetterSelection} from './read.js'
import type {Screen} from './select.js'

type ReplayedItemResult = DlqReplayResult['replayed'][number]

/** One journal chunk of a run: its items, its journal's key, and how many of its items are not settled yet. */
interface Chunk {
  items: ReplayItem[]
  journal: string
  left: number
  /** Set once begun: the chunk as begun, or undefined when its `replaying` record or its originals failed. */
  ready?: Promise<BegunChunk | undefined>
  /** Its `replayed` record written (or given up), once every item is settled. */
  recorded?: Promise<unknown>
}

/** A chunk whose `replaying` record is stored: what its items are sent with, and what became of each. */
interface BegunChunk {
  started: ReplayJournal
  /** When the server stored the `replaying` record: every copy of the chunk is stored after it. */
  storedAt: string
  originals: Map<string, OriginalMessage>
  /** By index in the chunk: confirmed (its copy acknowledged), uncertain (it may have been stored), or neither. */
  confirmed: Map<number, ReplayedItemResult>
  uncertain: Set<number>
}

/** Headers of a replayed copy (docs/operations.md, dead letters); Nats-Msg-Id is the replay id. */
export const REPLAY_HEADERS = {
  of: 'Dv-Replay-Of',
  id: 'Dv-Replay-Id',
  by: 'Dv-Replayed-By',
} as const

/** Publishes in flight at once: enough to keep the server busy, bounded so memory stays flat. */
const PUBLISH_WINDOW = 256
/** Dead letters per replay journal at most (one ledger write before a chunk is sent, one after). */
const JOURNAL_CHUNK = 1000
/** A journal's value stays well under the server's max payload (1 MiB by default). */
const JOURNAL_BYTES = 256 * 1024
/** Originals kept from planning for the run at most (bytes of data); beyond it they are read again per chunk. */
const KEPT_ORIGINAL_BYTES = 64 * 1024 * 1024

export interface ReplaySelection {
  /** Explicit references (`dlq replay REF...`). */
  refs?: string[]
  /** `--all` with the list filters. */
  all?: DeadLetterSelection
}

export interface ReplayPlanOptions extends ReplaySelection {
  force: boolean
  toSubject?: string
  /**
   * Keep the originals read while planning for the run (when it follows at once, `--yes`): each is the very
   * message checked against its advisory, so sending its bytes is what a second read would have checked.
   * Without it (a confirmation may take minutes) the run reads each original again and sends it only if it
   * is still the same message.
   */
  keepOriginals?: boolean
  /** Filters and holds (select.ts): `drop` leaves a dead letter out, a string skips it with that reason. */
  screen?: Screen
  /**
   * Read each planned dead letter's envelope id (a bulk plan otherwise does not): `--canary` and `--halt-after`
   * follow their copies' outcomes, which are joined by the id a copy carries (outcome.ts).
   */
  copyIds?: boolean
}

export interface ReplayPlan {
  items: ReplayItem[]
  skipped: SkippedItem[]
  /** Explicit refs with no dead letter behind them. */
  notFound: string[]
  ledger: LedgerState
  /**
   * The originals read while planning, by ledger key (checked against their advisories then), kept up to
   * KEPT_ORIGINAL_BYTES so a replay does not read them twice; the run reads the rest chunk by chunk.
   */
  originals?: Map<string, OriginalMessage>
}

/** Which dead letters a replay would send, where, with which replay id; and which it skips and why. */
export async function planReplay(conn: SiteConnection, options: ReplayPlanOptions): Promise<ReplayPlan> {
  // Loaded while DV_DLQ is read (readDeadLetters waits for both).
  const loading = Ledger.open(conn, {create: false}).then((l) => (l ? l.load() : emptyLedgerState()))
  loading.catch(() => {})
  const refs = options.refs?.map((r) => localRef(conn.site.name, r))
  const originals = new Map<string, OriginalMessage>()
  let kept = 0
  const letters = await readDeadLetters(conn, {
    // A bulk replay needs the failures and envelopes only for filters on them (select.ts).
    // Named refs and replay_failed letters need the failure: a replay that failed the same way is refused.
    failures: options.screen?.needsFailures === true || Boolean(refs) || options.all?.status === 'replay_failed',
    // A bulk replay shows nothing of the envelopes; named refs keep them (--edit takes the id as causation).
    summaries: Boolean(refs) || options.screen?.needsSummaries === true || options.copyIds === true,
    onOriginal: (key, original) => {
      if (!options.keepOriginals || kept + original.data.length > KEPT_ORIGINAL_BYTES) return
      kept += original.data.length
      originals.set(key, original)
    },
    ...(options.all ?? {}),
    status: refs ? 'all' : (options.all?.status ?? 'pending'),
    ...(refs ? {refs: new Set(refs.map((r) => formatRef(r)))} : {}),
    qualified: false,
    ledger: loading,
  })
  const ledger = await loading
  const plan: ReplayPlan = {items: [], skipped: [], notFound: [], ledger, originals}
  if (refs) {
    const found = new Set(letters.map((l) => l.ref))
    for (const r of refs) if (!found.has(formatRef(r))) plan.notFound.push(formatRef(r))
  }
  for (const letter of letters) {
    const screened = options.screen?.(letter)
    if (screened === 'drop') continue
    if (screened !== undefined) {
      plan.skipped.push({ref: letter.ref, reason: screened})
      continue
    }
    const decision = decideReplay(letter, ledger, options)
    if ('item' in decision) plan.items.push(decision.item)
    else plan.skipped.push({ref: letter.ref, reason: decision.skip})
  }
  for (const ref of plan.notFound) plan.skipped.push({ref, reason: 'no such dead letter (no advisory in DV_DLQ)'})
  // Only the planned items' originals are worth keeping.
  const planned = new Set(plan.items.map((i) => i.key))
  for (const key of originals.keys()) if (!planned.has(key)) originals.delete(key)
  return plan
}

export interface ReplayRunOptions {
  actor: string
  reason: string | null
  /** Messages per second at most (`--rate`); unset means as fast as acks come back. */
  ratePerSecond?: number
  /** `--edit`: the envelope to send instead of the original, for the one planned item. */
  edited?: {data: Uint8Array; id: string}
  /** Called after each item, sent or failed: items done, planned, and failed so far. */
  onProgress?: (done: number, total: number, failed: number) => void
  /**
   * `--canary N`: the first `count` items form the first chunk; once it is sent and recorded, `check` waits for
   * their copies' outcomes and the run goes on only if none failed again (else the rest is not attempted).
   */
  canary?: {count: number; check: (copies: CanaryCopy[]) => Promise<Array<{ref: string; error: string}>>}
  /** The run id (the journals' `_replays.<run>.<chunk>` and the job's `job.<run>`); a fresh one when unset. */
  run?: string
  /**
   * Called after a copy is acknowledged and before its chunk's ledger record (tests simulate a crash here), with
   * the copy as outcome.ts follows it (`--halt-after`).
   */
  onPublished?: (item: ReplayItem, seq: number, copy: CanaryCopy) => void
  signal?: AbortSignal
}

/**
 * Sends the planned copies (docs/operations.md, dead letters): byte-identical data, the original's own headers plus
 * Dv-Replay-Of/-Id/-Replayed-By, Nats-Msg-Id = replay id. Per chunk (ledger.ts, docs/architecture.md): the
 * journal's `replaying` record is written and acknowledged (before), the copies are published pipelined
 * (PUBLISH_WINDOW acks in flight, `--rate` honoured), and the journal's `replayed` record names each
 * acknowledged copy with its sequence (after): two ledger writes per chunk, not one per dead letter, made
 * while the chunks before and after are sent (sendChunks), so the window never waits for the ledger. A run
 * interrupted anywhere is finished by running it again: the same replay ids make JetStream drop copies
 * already stored (within the stream's duplicate window), and after that window the target stream is
 * searched for the replay id before anything is sent.
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
  const publisher = await AckedPublisher.open(conn.nc, conn.timeoutMs)
  try {
    await sendAll(conn, plan, options, result, loss, publisher)
  } finally {
    publisher.close()
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
  publisher: AckedPublisher,
): Promise<void> {
  let canaryFailed = false
  /** A chunk that could not be begun, not for a lost site: no chunk is begun after it, and the run fails at the end. */
  let failure: {error: unknown} | undefined
  const stopped = () => loss.reason !== undefined || options.signal?.aborted === true || canaryFailed
  const notAttempted = (items: ReplayItem[]) => {
    for (const planned of planJson({items})) result.not_attempted.push(planned)
  }
  let ledger: Ledger
  try {
    ledger = (await loss.race(Ledger.open(conn, {create: true})))!
  } catch (error) {
    loss.markIfSiteLevel(error)
    if (!loss.reason) throw error
    notAttempted(plan.items)
    return
  }
  const reader = new OriginalReader(conn)
  const run = options.run ?? newRunId()
  const pace = pacer(options.ratePerSecond, options.signal)
  const total = plan.items.length
  const maxPayload = conn.nc.info?.max_payload
  const canary = options.canary && options.canary.count < plan.items.length ? options.canary : undefined
  // The canary's chunks are sent (and recorded) first; only once their copies' outcomes are known is the rest.
  const phases = canary
    ? [
        journalChunks(plan.items.slice(0, canary.count), maxPayload),
        journalChunks(plan.items.slice(canary.count), maxPayload),
      ]
    : [journalChunks(plan.items, maxPayload)]
  let done = 0
  /** With a canary, each acknowledged copy as outcome.ts follows it, by replay id (the canary's are checked). */
  const copies = canary ? new Map<string, CanaryCopy>() : undefined
  const known = plan.originals ?? new Map<string, OriginalMessage>()

  let journals = 0
  for (const [phase, chunks] of phases.entries()) {
    // A canary copy that could not be sent counts as failed too (nothing says the rest would fare better).
    if (phase > 0 && canary && !stopped()) {
      const sent = result.replayed.flatMap((r) => copies?.get(r.replay_id) ?? [])
      const failures = [...result.failed, ...(await canary.check(sent))]
      result.canary = {sent: result.replayed.length, failed: failures}
      if (failures.length > 0) canaryFailed = true
    }
    await sendChunks(chunks.map((items) => ({items, journal: journalKey(run, journals++), left: items.length})))
  }
  if (failure) throw failure.error

  /**
   * Sends the chunks' copies through one window of PUBLISH_WINDOW publishes, so that it stays full from one
   * chunk to the next. A chunk is begun (its `replaying` record written, its originals read) when the one before
   * it starts to be sent; each of its copies is published only once that record is acknowledged. Its `replayed`
   * record is written once all its items are settled, while the next chunk is sent.
   */
  async function sendChunks(chunks: Chunk[]): Promise<void> {
    let current = 0
    let index = 0
    const take = (): [Chunk, number] | undefined => {
      while (current < chunks.length && index >= chunks[current].items.length) {
        current++
        index = 0
      }
      if (current === chunks.length) return undefined
      if (index === 0) {
        begin(chunks[current])
        if (current + 1 < chunks.length) begin(chunks[current + 1])
      }
      return [chunks[current], index++]
    }
    await Promise.all(
      Array.from({length: PUBLISH_WINDOW}, async () => {
        for (let next = take(); next; next = take()) await sendItem(...next)
      }),
    )
    await Promise.all(chunks.map((chunk) => chunk.recorded))
  }

  /** Writes the chunk's `replaying` record and reads its originals (unless the run has stopped: then it is never begun). */
  function begin(chunk: Chunk): void {
    if (chunk.ready || stopped() || failure) return
    const started: ReplayJournal = {
      action: 'replaying',
      actor: options.actor,
      at: new Date().toISOString(),
      reason: options.reason,
      items: chunk.items.map((i) => ({
        key: i.key,
        ref: i.letter.ref,
        replay_id: i.replay_id,
        generation: i.generation,
        to_subject: i.subject,
      })),
    }
    const originalsRead = readChunkOriginals(reader, chunk.items, known)
    originalsRead.catch(() => {})
    chunk.ready = (async (): Promise<BegunChunk> => {
      // Journal writes repeat safely (same key, same value), so a leader election in between is waited out.
      const revision = await loss.race(retryTransient(() => ledger.writeJournal(chunk.journal, started)))
      // When the server stored the `replaying` record: every copy of the chunk is stored after it. (Always
      // found: the record was just written under a key of its own.)
      const storedAt = (await loss.race(retryTransient(() => ledger.storedAt(chunk.journal, revision)))) ?? started.at
      return {started, storedAt, originals: await loss.race(originalsRead), confirmed: new Map(), uncertain: new Set()}
    })().catch((error: unknown) => {
      // Nothing of this chunk is published; should the journal have been stored, a re-run resumes its items
      // with the same replay ids, which is still one copy each.
      loss.markIfSiteLevel(error)
      if (!loss.reason) failure ??= {error}
      return undefined
    })
  }

  async function sendItem(chunk: Chunk, index: number): Promise<void> {
    const item = chunk.items[index]
    try {
      const begun = chunk.ready && (await chunk.ready)
      if (!begun || stopped()) {
        notAttempted([item])
        return
      }
      await sendBegun(item, index, begun)
    } finally {
      if (--chunk.left === 0) chunk.recorded = chunk.ready?.then((begun) => begun && finish(chunk, begun))
    }
  }

  /** Records a chunk whose items are all settled, and lets go of what it held (a long run keeps only its result). */
  async function finish(chunk: Chunk, begun: BegunChunk): Promise<void> {
    begun.originals.clear()
    await record(chunk, begun)
    chunk.ready = undefined
  }

  /** Sends one item of a begun chunk; what became of it is kept for the chunk's `replayed` record. */
  async function sendBegun(item: ReplayItem, index: number, begun: BegunChunk): Promise<void> {
    const {storedAt, originals, confirmed, uncertain} = begun
    const attempt = {published: false}
    try {
      const sent = await loss.race(sendOne(item, originals, attempt))
      if (copies || options.onPublished) {
        const copy: CanaryCopy = {
          ref: item.letter.ref,
          key: item.key,
          replay_id: item.replay_id,
          seq: sent.seq,
          to_subject: item.subject,
          started_at: storedAt,
          at: storedAt,
          actor: options.actor,
          copy_id: options.edited?.id ?? item.letter.id,
        }
        copies?.set(item.replay_id, copy)
        options.onPublished?.(item, sent.seq, copy)
      }
      const replayed = {
        ref: item.letter.ref,
        subject: item.subject,
        replay_id: item.replay_id,
        new_seq: sent.seq,
        duplicate: sent.duplicate,
        new_id: options.edited?.id ?? null,
      }
      result.replayed.push(replayed)
      confirmed.set(index, replayed)
    } catch (error) {
      // A resumed item stays in flight whatever happened: its earlier run may have stored a copy.
      if (attempt.published || item.resume) uncertain.add(index)
      // Stopped before its publish (waiting for its turn under --rate, or looking for an earlier copy).
      if (error instanceof NotSent || (error instanceof SiteLost && !attempt.published)) {
        notAttempted([item])
        return
      }
      const siteLevel = loss.markIfSiteLevel(error)
      result.failed.push({
        ref: item.letter.ref,
        error: siteLevel
          ? `${describe(error)}: not confirmed, the copy may or may not be stored; run the same command again to finish it (no second copy is sent)`
          : describe(error),
      })
    }
    options.onProgress?.(++done, total, result.failed.length)
  }

  /**
   * The chunk's `replayed` record: every acknowledged copy with its sequence, every uncertain item still in
   * flight. A dropped connection gets no record (it would only wait for its timeout): the journal's
   * `replaying` record stays, and a re-run finishes its items with the same replay ids.
   */
  async function record(chunk: Chunk, begun: BegunChunk): Promise<void> {
    const {started, storedAt, confirmed, uncertain} = begun
    if (loss.disconnected || (confirmed.size === 0 && uncertain.size === chunk.items.length)) return
    const finished: ReplayJournal = {
      ...started,
      action: 'replayed',
      stored_at: storedAt,
      done_at: new Date().toISOString(),
      items: started.items.flatMap((item, index) => {
        const copy = confirmed.get(index)
        if (copy) {
          return [
            {
              ...item,
              new_seq: copy.new_seq,
              ...(copy.duplicate ? {duplicate: true} : {}),
              ...(copy.new_id ? {new_id: copy.new_id} : {}),
            },
          ]
        }
        return uncertain.has(index) ? [item] : []
      }),
    }
    try {
      await loss.raceDisconnect(
        retryTransient(() => ledger.writeJournal(chunk.journal, finished), {giveUpIf: () => loss.disconnected}),
      )
    } catch (error) {
      if (loss.disconnected) return
      loss.markIfSiteLevel(error)
      // The copies are stored; their record is not. The journal's `replaying` record stays, so a re-run
      // records them (the same replay ids find the stored copies) instead of sending others.
      for (const copy of confirmed.values()) {
        result.replayed.splice(result.replayed.indexOf(copy), 1)
        result.failed.push({
          ref: copy.ref,
          error: `copy stored (seq ${copy.new_seq}), ledger not written: ${describe(error)}; run the same command again to record it (no second copy is sent)`,
        })
      }
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
    if (!original) throw new ItemRefused('the original message is gone (deleted or aged out, and not archived)')
    // The stream may have changed since the plan was made (recreated, the message deleted): only the
    // message that was checked against its advisory is sent.
    if (original.subject !== item.letter.subject || original.time !== item.letter.original_time) {
      throw new ItemRefused(
        `the message at ${item.letter.stream}:${item.letter.seq} changed since the plan was made; nothing was sent`,
      )
    }
    const h: Array<[string, string]> = []
    for (const [k, values] of Object.entries(original.headers)) {
      if (/^Nats-/i.test(k) || /^Dv-Replay/i.test(k)) continue
      for (const v of values) h.push([k, v])
    }
    h.push(
      [REPLAY_HEADERS.of, `${item.letter.stream}:${item.letter.seq}`],
      [REPLAY_HEADERS.id, item.replay_id],
      [REPLAY_HEADERS.by, options.actor],
    )
    if (pace) await pace()
    if (stopped()) throw new NotSent()
    const data = options.edited?.data ?? original.data
    guardReplayTarget(item.subject)
    attempt.published = true
    // Safe to repeat: the replay id is the Nats-Msg-Id, so a copy stored before its ack was lost (the
    // stream's leader died) comes back as a duplicate rather than a second copy.
    const ack = await retryTransient(() => publisher.publish(item.subject, data, {msgID: item.replay_id, headers: h}), {
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
  /** The races still waiting: a lost site rejects them all at once, with one error. */
  private readonly waiting = new Set<(error: SiteLost) => void>()
  private drop!: (reason: string) => void
  private readonly dropped = new Promise<string>((resolve) => (this.drop = resolve))
  private readonly droppedError = rejectWith(this.dropped)
  private readonly status: AsyncIterable<{type: string}> & {stop?: () => void}

  constructor(private readonly conn: SiteConnection) {
    const status = conn.nc.status() as AsyncIterable<{type: string}> & {stop?: () => void}
    this.status = status
    void (async () => {
      for await (const s of status) {
        if (s.type === 'disconnect' || s.type === 'close') {
          this.disconnected = true
          this.mark(`lost the connection to site ${conn.site.name}`)
          this.drop(`lost the connection to site ${conn.site.name}`)
        }
      }
    })().catch(() => {})
    void conn.nc.closed().then(() => {
      this.disconnected = true
      this.mark(`the connection to site ${conn.site.name} closed`)
      this.drop(`the connection to site ${conn.site.name} closed`)
    })
  }

  mark(reason: string): void {
    if (this.reason !== undefined) return
    this.reason = reason
    const lost = new SiteLost(reason)
    for (const reject of this.waiting) reject(lost)
    this.waiting.clear()
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
    if (this.reason !== undefined) {
      promise.catch(() => {})
      return Promise.reject(new SiteLost(this.reason))
    }
    // Not Promise.race with one long-lived promise: that would keep a reaction (and its race) per item until the end.
    return new Promise<T>((resolve, reject) => {
      this.waiting.add(reject)
      promise.then(
        (value) => {
          this.waiting.delete(reject)
          resolve(value)
        },
        (error: unknown) => {
          this.waiting.delete(reject)
          reject(error)
        },
      )
    })
  }

  /** `promise`, unless the connection drops first (a failed publish alone does not stop a ledger write). */
  raceDisconnect<T>(promise: Promise<T>): Promise<T> {
    promise.catch(() => {})
    return Promise.race([promise, this.droppedError])
  }

  stop(): void {
    this.status.stop?.()
  }
}

/**
 * The plan cut into journal chunks: JOURNAL_CHUNK items at most, and few enough that the journal (with each
 * item's sequence added when it is finished) stays within JOURNAL_BYTES and half the server's max payload.
 */
export function journalChunks(items: ReplayItem[], maxPayload?: number): ReplayItem[][] {
  const limit = Math.min(JOURNAL_BYTES, maxPayload ? maxPayload / 2 : JOURNAL_BYTES)
  const chunks: ReplayItem[][] = []
  let chunk: ReplayItem[] = []
  let bytes = 512
  for (const item of items) {
    // An item as the journal stores it, with room for new_seq, new_id and duplicate.
    const size = 160 + item.key.length + item.letter.ref.length + item.replay_id.length + item.subject.length
    if (chunk.length > 0 && (chunk.length >= JOURNAL_CHUNK || bytes + size > limit)) {
      chunks.push(chunk)
      chunk = []
      bytes = 512
    }
    chunk.push(item)
    bytes += size
  }
  if (chunk.length > 0) chunks.push(chunk)
  return chunks
}

/** A promise that rejects (SiteLost) when `reason` resolves; never an unhandled rejection. */
function rejectWith(reason: Promise<string>): Promise<never> {
  const p = reason.then((why): never => {
    throw new SiteLost(why)
  })
  p.catch(() => {})
  return p
}

/** The originals of one chunk (at most JOURNAL_CHUNK in memory), read by range when they are dense. */
async function readChunkOriginals(
  reader: OriginalReader,
  items: ReplayItem[],
  known: Map<string, OriginalMessage>,
): Promise<Map<string, OriginalMessage>> {
  const originals = new Map<string, OriginalMessage>()
  const byStream = new Map<string, {stream: number[]; archive: number[]}>()
  for (const i of items) {
    const original = known.get(i.key)
    if (original) {
      originals.set(i.key, original)
      // Sent once: the plan's copy is not needed after this chunk.
      known.delete(i.key)
      continue
    }
    let seqs = byStream.get(i.letter.stream)
    if (!seqs) byStream.set(i.letter.stream, (seqs = {stream: [], archive: []}))
    // From the dead-letter archive when the plan found it there (its stream dropped it).
    ;(i.letter.original_source === 'archive' ? seqs.archive : seqs.stream).push(i.letter.seq)
  }
  for (const [stream, seqs] of byStream) {
    const keep = (seq: number, original: OriginalMessage | null) => {
      if (original) originals.set(ledgerKey({stream, seq}), original)
    }
    await reader.each(stream, seqs.stream, PUBLISH_WINDOW, keep)
    await reader.eachArchived(stream, seqs.archive, PUBLISH_WINDOW, keep)
  }
  return originals
}

/** A replay run's id: its journals (`_replays.<run>.<chunk>`) and its job (`job.<run>`) carry it. */
export function newRunId(): string {
  return `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`
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

/**
 * `--rate N/s`: spaces publishes evenly; undefined when unset. A wait ends at once when the run is interrupted
 * (NotSent): under a slow rate most of a chunk is waiting for its turn, and Ctrl-C must not wait for it.
 */
function pacer(ratePerSecond: number | undefined, signal: AbortSignal | undefined): (() => Promise<void>) | undefined {
  if (!ratePerSecond) return undefined
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
  // The same message that was checked against its advisory when planning (from its stream or the archive), or nothing.
  return (await new OriginalReader(conn).forLetter(item.letter))?.data ?? null
}
