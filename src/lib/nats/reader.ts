import type {
  Consumer,
  ConsumerMessages,
  JsMsg,
  MsgRequest,
  OrderedConsumerOptions,
  StreamInfo,
} from '@nats-io/jetstream'
import type {QueuedIterator} from '@nats-io/transport-node'

import {formatDuration} from '../duration.js'
import type {SiteConnection} from './connection.js'
import {isStreamNotFound, StalledError} from './errors.js'
import {EventQueue} from './event-queue.js'
import {NeedleFilter} from './needle.js'
import {ORDERED_CONSUMER_ATTEMPTS, retryTransient} from './transient.js'

/**
 * The one way dvctl reads streams (docs/architecture.md, "Reading streams"): ordered consumers on one or
 * more streams of one or more sites, bounded to the history that existed when the read began, optionally
 * followed live.
 *
 * - History ends where the stream ended when the read opened (its last sequence then): a bounded read never
 *   chases new writes, and a message stored later is live, not history. It is judged by sequence and by
 *   the server's own count of what is left (`pending` on each message), never by counting deliveries, so a
 *   message the client hands over twice cannot end the history early.
 * - Nothing is repeated: the last stream sequence handed out is kept per stream and site, and anything at
 *   or below it is dropped. After a reconnect or a server restart the client recreates the consumer from
 *   the last sequence it received; when a live consumer falls silent (its server died in a cluster), the
 *   reader closes it and opens a new one after the last sequence it handed out.
 * - A bounded read that gets nothing from its server for the connection's timeout fails with a
 *   StalledError (exit 4); the clock runs only while the reader waits on the server, never while its caller
 *   is busy (writing into a slow pipe).
 */

/** One stored message as read from a stream, before any JSON parsing. */
export interface StoredMessage {
  site: string
  stream: string
  seq: number
  subject: string
  /** When the stream stored it (RFC 3339); the merge order of history across streams and sites. */
  time: string
  data: Uint8Array
  headers?: Record<string, string[]>
}

/** The part of a stream's history to read: `from` inclusive, `to` inclusive; absent means unbounded. */
export interface ScanWindow {
  from?: Date
  to?: Date
}

/** The stream does not exist on that site: reported, never fatal for the other streams. */
export class StreamMissing extends Error {
  constructor(readonly stream: string) {
    super(`stream ${stream} not found`)
    this.name = 'StreamMissing'
  }
}

export const DEFAULT_BATCH = 1000

/**
 * Where a read begins: a stream sequence, the first message stored at or after a time, only what is stored
 * after the read opens (`new`: no history), or the last message of each subject (`last-per-subject`, a KV
 * bucket's current values). The stream's first message when absent.
 */
export type ReadStart = {seq: number} | {time: Date} | 'new' | 'last-per-subject'

export interface StreamSpec {
  stream: string
  /** Server-side filter; only a subset of the stream's subjects (2.9 refuses anything else). */
  filterSubject?: string
  /**
   * Raw-byte pre-filter: a message whose payload does not contain these bytes is skipped without being
   * decoded: a scan parses only the messages that can match.
   */
  needle?: Uint8Array
}

export interface ReadOptions {
  start?: ReadStart
  /** The history ends at the first message stored after this time. */
  to?: Date
  /** Keep reading after the history (live). */
  follow?: boolean
  /** Keep each message's NATS headers. */
  headers?: boolean
  /** Messages per pull request; larger batches drain faster. */
  batch?: number
  /**
   * A read that gets nothing from the server for this long fails with a StalledError (exit 4). Default:
   * the connection's timeout without `follow`; none with it (a quiet stream is normal when following, and
   * a lost site is waited for).
   */
  stallMs?: number
  signal?: AbortSignal
}

/** What `StreamReader.next` returns once the history is read (then live messages, with `follow`). */
export const CAUGHT_UP: unique symbol = Symbol('caught-up')

/** After this long waiting for the rest of the history, ask whether it was deleted meanwhile. */
const DRAINED_CHECK_MS = 1000
/** How many later-superseded messages a last-per-subject read steps over when confirming its end. */
const END_CHECK_STEPS = 64
/** How many times a read replaces a consumer whose replica lags behind the leader and has fallen silent. */
const LAG_REPLACEMENTS = 3
/** Live: a consumer whose heartbeats stopped this many times while the reader waited on it is replaced. */
const SILENT_HEARTBEATS = 2
/**
 * How many times in a row (no message between) a read replaces a consumer whose pull reached no one, and the
 * pause before the first replacement (doubled each time after).
 */
const NO_RESPONDER_REPLACEMENTS = 5
const NO_RESPONDER_PAUSE_MS = 100

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** When the stream stored a message (ms): msg.time without the Date (the client's own millis of its nanoseconds). */
const storedMillis = (msg: JsMsg): number => Math.floor(msg.info.timestampNanos / 1_000_000)

/**
 * One stream of one site. `open()`, then `next()` until it returns undefined: matching messages of the
 * history, CAUGHT_UP once, then (with `follow`) live messages. `close()` stops it and deletes its consumer.
 */
export class StreamReader {
  /** Messages of the stream read so far, matched or not (for benchmarks and progress). */
  scanned = 0
  /** When the stream stored the message `next` returned last, in ns: the merge order (StoredMessage.time has ms). */
  storedNanos = 0
  private heldNanos = 0
  /** The last stored time formatted (storedTime), and its ms. */
  private lastTimeMs = Number.NaN
  private lastTime = ''
  private lastSeq = 0
  /** The stream's last sequence when the read opened: where the history ends. */
  private endSeq = 0
  /** The first sequence the read asked for (a replacement consumer never starts before it). */
  private firstSeq = 1
  private caughtUp = false
  private reportCaughtUp = false
  /** A live message met while finishing the history, handed out after CAUGHT_UP. */
  private held: StoredMessage | undefined
  private closed = false
  private stalled = false
  private replacing = false
  private drainedCheck = false
  /** The stream has more than one replica: its consumer's server may be a replica still catching up. */
  private replicated = false
  /**
   * The leader said history is left that the consumer's server had not handed out: it is catching up. Its
   * messages keep coming, so the leader is asked again only after a silence (the drained check), not at
   * every message.
   */
  private lagging = false
  /** A last-per-subject read's confirmation got this far (messages superseded within the history). */
  private checkedTo = 0
  private lagReplacements = 0
  /** Consumers replaced in a row because their pull reached no one; a message received resets it. */
  private noResponderReplacements = 0
  /** The connection's reconnect count when the consumer was made (live reads replace it after a reconnect). */
  private reconnectsSeen = 0
  /** When the watchdog may ask again whether the history is complete (after an unconfirmed end). */
  private recheckAt = 0
  /** Where the last message received came from (which consumer, its delivery count). */
  private lastDelivery: {consumer: string; deliverySequence: number} | undefined
  /** Set when the read stalled: `next` throws it. */
  private failure: Error | undefined
  private consumer: Consumer | undefined
  private messages: ConsumerMessages | undefined
  /** The current consumer's messages, one at a time; unset in a drain (`drain`). */
  private iterator: AsyncIterator<JsMsg> | undefined
  /**
   * What the current consumer delivered and the reader has not taken yet, from `head` on. In a drain the
   * client hands each message to a callback (consume's callback mode), so the drain takes the messages of a
   * socket read one after another without a promise each (`poll`); otherwise the iterator puts one at a time.
   */
  private queue: JsMsg[] = []
  private head = 0
  /** The current consumer's messages ended (stopped, or closed by the client), with the error they ended with. */
  private ended: {error?: Error} | undefined
  /** Wakes a `next` waiting for the current consumer's next message or its end. */
  private wake: (() => void) | undefined
  private waitingSince: number | undefined
  private watchdog: NodeJS.Timeout | undefined
  private readonly follow: boolean
  private readonly stallMs: number | undefined
  private readonly to: number | undefined
  private readonly needle: NeedleFilter | undefined

  /**
   * `drain`: the caller takes each message as soon as it is delivered, without waiting on anything (drainStream).
   * The client then hands messages over in callback mode, which pulls the next batch on receipt: without the
   * iterator, whose pulls wait their turn behind the messages before them, nothing would hold back a server
   * sending faster than a slow caller (tail into a slow pipe) takes.
   */
  constructor(
    readonly conn: SiteConnection,
    readonly spec: StreamSpec,
    readonly options: ReadOptions = {},
    private readonly drain = false,
  ) {
    this.follow = options.follow ?? false
    this.stallMs = options.stallMs ?? (this.follow ? undefined : conn.timeoutMs)
    this.to = options.to?.getTime()
    this.needle = spec.needle ? new NeedleFilter(spec.needle) : undefined
  }

  get site(): string {
    return this.conn.site.name
  }

  get stream(): string {
    return this.spec.stream
  }

  /** True once every message of the history was handed out. */
  get isCaughtUp(): boolean {
    return this.caughtUp
  }

  /** Creates the consumer. Throws StreamMissing when the stream does not exist on the site. */
  async open(): Promise<void> {
    const jsm = await this.conn.jsm()
    let info: StreamInfo
    try {
      info = await jsm.streams.info(this.spec.stream)
    } catch (error) {
      if (isStreamNotFound(error)) throw new StreamMissing(this.spec.stream)
      throw error
    }
    this.endSeq = info.state.last_seq
    this.replicated = (info.config.num_replicas ?? 1) > 1
    const start = this.options.start
    let consumerOptions: Partial<OrderedConsumerOptions>
    if (start === 'last-per-subject') {
      consumerOptions = {deliver_policy: 'last_per_subject' as OrderedConsumerOptions['deliver_policy']}
    } else {
      // Always by start sequence: when the client recreates an ordered consumer (reconnect, server
      // restart) it resumes by sequence, and a leftover opt_start_time would be refused.
      this.firstSeq =
        start === 'new'
          ? this.endSeq + 1
          : start && 'time' in start
            ? await this.sequenceAt(start.time)
            : Math.max(1, start?.seq ?? 1)
      consumerOptions = {opt_start_seq: this.firstSeq}
    }
    if (this.closed) return
    await this.createConsumer(consumerOptions)
    const pending = (await this.consumer!.info(true)).num_pending
    if (this.endSeq < this.firstSeq || (pending === 0 && (await this.endConfirmed()))) this.markCaughtUp()
    if (this.caughtUp && !this.follow) {
      await this.consumer!.delete().catch(() => {})
      this.consumer = undefined
      return
    }
    if (this.closed) {
      // Closed while opening (an abort): the consumer just made is not left behind.
      await this.consumer?.delete().catch(() => {})
      this.consumer = undefined
      return
    }
    await this.consume()
    this.watchdog = setInterval(() => this.tick(), Math.max(50, Math.min(250, (this.stallMs ?? 1000) / 4)))
    this.watchdog.unref()
  }

  /**
   * The next matching message, CAUGHT_UP once the history is read, or undefined at the end (after the
   * history without `follow`, or once closed). Throws a StalledError when the server stops answering.
   */
  async next(): Promise<StoredMessage | typeof CAUGHT_UP | undefined> {
    for (;;) {
      if (this.failure) throw this.failure
      if (this.reportCaughtUp) {
        this.reportCaughtUp = false
        if (!this.follow) await this.close()
        return CAUGHT_UP
      }
      if (this.held) {
        const m = this.held
        this.held = undefined
        this.storedNanos = this.heldNanos
        return m
      }
      if (this.closed || !this.messages) return undefined
      if (this.head === this.queue.length && !this.ended) {
        this.queue = []
        this.head = 0
        // The watchdog (tick) acts only while this waits on the server; it ends the wait by stopping the
        // consumer's messages (with the stall as their error).
        this.waitingSince = Date.now()
        try {
          if (!this.iterator) await new Promise<void>((resolve) => (this.wake = resolve))
          else {
            const r = await this.iterator.next()
            if (r.done) this.ended = {}
            else this.queue.push(r.value)
          }
        } finally {
          this.wake = undefined
          this.waitingSince = undefined
        }
        continue
      }
      if (this.head === this.queue.length) {
        // What was delivered before the end is handed out first, as the client's iterator would.
        if (this.ended?.error) throw this.ended.error
        if (this.closed) continue
        if (this.replacing) {
          await this.replace()
          continue
        }
        // The history was found complete (checkDrained), or the client ended the read (connection closed).
        await this.close()
        if (!this.caughtUp) throw new Error(`the read of ${this.spec.stream} ended before its history did`)
        continue
      }
      const msg = this.queue[this.head++]
      const seq = this.received(msg)
      if (seq <= this.lastSeq) continue
      this.lastSeq = seq
      // A bounded read hands out nothing stored after it opened, even once caught up.
      if (!this.caughtUp || !this.follow) {
        if (seq > this.endSeq || (this.to !== undefined && storedMillis(msg) > this.to)) {
          // Stored after the read opened (or after the window): not history.
          this.markCaughtUp()
          if (this.follow) {
            this.held = this.accept(msg)
            this.heldNanos = msg.info.timestampNanos
          }
          continue
        }
        if (
          !this.caughtUp &&
          (seq >= this.endSeq || (msg.info.pending === 0 && !this.lagging && (await this.endConfirmed())))
        ) {
          this.markCaughtUp()
        }
      }
      const stored = this.accept(msg)
      if (stored) {
        this.storedNanos = msg.info.timestampNanos
        return stored
      }
    }
  }

  /**
   * What `next` would return, without waiting, for the common case of a bounded read: the next matching
   * message among those already delivered, while each is history and not its last. Null whenever `next` must
   * decide (nothing delivered yet, the history's end, a message stored after it, a stall, the close): the
   * caller then awaits `next`, which goes on from the same place.
   */
  poll(): StoredMessage | null {
    if (this.follow) return null
    for (;;) {
      if (this.failure || this.reportCaughtUp || this.held || this.closed || this.caughtUp) return null
      if (this.head === this.queue.length) return null
      const msg = this.queue[this.head]
      const seq = msg.seq
      // `next` decides at the history's end (and whether a replica is catching up) and past it.
      if (seq >= this.endSeq || msg.info.pending === 0 || (this.to !== undefined && storedMillis(msg) > this.to))
        return null
      this.head++
      this.received(msg)
      if (seq <= this.lastSeq) continue
      this.lastSeq = seq
      const stored = this.accept(msg)
      if (stored) {
        this.storedNanos = msg.info.timestampNanos
        return stored
      }
    }
  }

  /** Counts a message taken from the queue and notes that the server is sending; its stream sequence. */
  private received(msg: JsMsg): number {
    this.scanned++
    this.drainedCheck = false
    this.noResponderReplacements = 0
    this.lastDelivery = msg.info
    return msg.seq
  }

  /**
   * Stops the consumer and deletes it on the server (an ordered consumer would otherwise linger until its
   * inactivity threshold); a pending `next` ends with undefined.
   */
  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    clearInterval(this.watchdog)
    this.messages?.stop()
    const consumer = this.consumer
    this.consumer = undefined
    // A server that stopped answering, or a link that is down, is not waited for.
    if (consumer && !this.stalled && !this.conn.linkDown()) await consumer.delete().catch(() => {})
  }

  private markCaughtUp(): void {
    if (this.caughtUp) return
    this.caughtUp = true
    this.reportCaughtUp = true
  }

  /** The watchdog: a stall (bounded reads), or a history whose end was deleted while it was read. */
  private tick(): void {
    const since = this.waitingSince
    if (since === undefined || this.closed) return
    if (this.follow && this.conn.reconnects() !== this.reconnectsSeen && !this.replacing) {
      // The link came back (maybe to another server of the cluster): the consumer may have lived on the
      // server that went away. The client then only asks after it, and on a 2.9 cluster waits for ever
      // (the info request of a consumer on a dead peer times out rather than failing). A new one is made.
      this.reconnectsSeen = this.conn.reconnects()
      return this.replaceConsumer()
    }
    const waited = Date.now() - since
    if (this.stallMs !== undefined && waited >= this.stallMs) {
      this.failure = this.stall()
      // The waiting `next` gets the stall as the messages' error; nothing is asked of the server.
      this.messages?.stop(this.failure)
      void this.close()
      return
    }
    if (!this.caughtUp && !this.drainedCheck && waited >= DRAINED_CHECK_MS && Date.now() >= this.recheckAt) {
      this.drainedCheck = true
      void this.checkDrained()
    }
  }

  /**
   * Messages of the history deleted while it is read (age limit, purge) never arrive: once the server
   * says nothing is pending and everything it sent was seen, the history is complete.
   */
  private async checkDrained(): Promise<void> {
    const consumer = this.consumer
    if (!consumer) return
    const info = await consumer.info().catch(() => undefined)
    if (this.caughtUp || this.closed || this.waitingSince === undefined) return
    // No answer this time (a leader election, a replica restarting): asked again a little later.
    if (!info) return this.checkAgainLater()
    // Everything this consumer sent was received (a purge moves its stream position, not its own count).
    const last = this.lastDelivery
    const seenAll = last
      ? info.name === last.consumer && info.delivered.consumer_seq <= last.deliverySequence
      : info.delivered.consumer_seq === 0
    if (info.num_pending === 0 && seenAll) {
      if (!(await this.endConfirmed())) {
        // A replica still catching up: its messages arrive as it does; asked again a little later. It sent
        // all it has and fell silent, though: a new consumer may be placed on a replica that is current.
        this.checkAgainLater()
        if (this.lagReplacements < LAG_REPLACEMENTS && !this.caughtUp && !this.closed && !this.replacing) {
          this.lagReplacements++
          this.replaceConsumer()
        }
        return
      }
      if (this.caughtUp || this.closed) return
      this.markCaughtUp()
      // Ends the wait: a bounded read is then over; a live one goes on with a new consumer.
      if (this.follow) this.replacing = true
      this.messages?.stop()
    }
  }

  /** Ends the wait on the current consumer: `next` then opens a new one after the last sequence handed out. */
  private replaceConsumer(): void {
    this.replacing = true
    this.messages?.stop()
  }

  /** The drained check is asked again once the reader has waited another DRAINED_CHECK_MS. */
  private checkAgainLater(): void {
    this.recheckAt = Date.now() + DRAINED_CHECK_MS
    this.drainedCheck = false
  }

  /**
   * The consumer's server says nothing is left before the stream's end as it was when the read opened. On
   * a single-replica stream that server holds the stream, and it is right. A replicated stream's read
   * consumer has one replica, placed on any of the stream's servers, and one that is still catching up (a
   * restarted node) would end the history early: a dead-letter ledger read there misses the newest replay
   * journals. The stream leader (STREAM.MSG.GET is answered only by it) tells whether a matching message
   * is left between the last one handed out and that end; deleted ones are not. A last-per-subject read
   * steps over messages superseded within the history (a few per question; it goes on from there the next
   * time). Unconfirmed, or no answer: not yet, and the server is taken to be catching up.
   */
  private async endConfirmed(): Promise<boolean> {
    if (!this.replicated) return true
    let from = Math.max(this.firstSeq, this.lastSeq + 1, this.checkedTo + 1)
    this.lagging = true
    try {
      const jsm = await this.conn.jsm()
      const filter = this.spec.filterSubject ?? '>'
      for (let step = 0; ; step++) {
        if (from > this.endSeq) break
        // Not confirmed yet; the next question goes on from here.
        if (step === END_CHECK_STEPS) return false
        const next = await jsm.streams.getMessage(this.spec.stream, {seq: from, next_by_subj: filter} as MsgRequest)
        if (!next || next.seq > this.endSeq) break
        if (this.options.start !== 'last-per-subject') return false
        const last = await jsm.streams.getMessage(this.spec.stream, {last_by_subj: next.subject})
        // Its subject's value at the history's end is this one (or one stored since, which the read may not get).
        if (!last || last.seq === next.seq || last.seq > this.endSeq) return false
        this.checkedTo = next.seq
        from = next.seq + 1
      }
    } catch {
      return false
    }
    this.lagging = false
    return true
  }

  private async createConsumer(options: Partial<OrderedConsumerOptions>): Promise<void> {
    this.reconnectsSeen = this.conn.reconnects()
    const js = await this.conn.js()
    const filter = this.spec.filterSubject ? {filter_subjects: this.spec.filterSubject} : {}
    try {
      // Retried only while the link is up: a cluster placing it on a dead peer, not a server that is gone
      // (that must end the read within --timeout).
      this.consumer = await retryTransient(() => js.consumers.get(this.spec.stream, {...filter, ...options}), {
        attempts: ORDERED_CONSUMER_ATTEMPTS,
        giveUpIf: () => this.conn.linkDown(),
      })
    } catch (error) {
      if (isStreamNotFound(error)) throw new StreamMissing(this.spec.stream)
      throw error
    }
  }

  private async consume(): Promise<void> {
    this.queue = []
    this.head = 0
    this.ended = undefined
    const max = this.options.batch ?? DEFAULT_BATCH
    if (!this.drain) {
      this.messages = await this.consumer!.consume({max_messages: max})
      this.iterator = this.messages[Symbol.asyncIterator]()
      this.watchConsumer(this.messages)
      return
    }
    const messages = await this.consumer!.consume({
      max_messages: max,
      callback: (msg) => {
        this.queue.push(msg)
        this.wake?.()
      },
    })
    this.messages = messages
    // Stopped (by the reader, by the client, or with a stall as the error): `next` hands out what is queued,
    // then sees the end.
    void messages.closed().then((error) => {
      if (this.messages !== messages) return
      this.ended = error ? {error} : {}
      this.wake?.()
    })
    this.watchConsumer(messages)
  }

  /**
   * Replaces the consumer (`next` opens a new one after the last sequence handed out) when the client's
   * own recovery would lose time or messages:
   * - the client recreated it (after a server restart, or a delivery out of order): the new consumer is
   *   only asked for what the old one still owed, i.e. almost nothing, until heartbeats are missed;
   * - live, its heartbeats stopped while this reader waited on it (not while the caller was busy: then no
   *   pull is out, and silence is expected). An ordered consumer is a single replica on one server of a
   *   clustered stream; when that server dies, the client only asks after it and waits for ever;
   * - its pull reached no one (no responders): the consumer is gone, or lives on another server of the
   *   cluster whose interest in its pulls has not reached this connection's server yet (a consumer just
   *   made, seen on 2.15 with a restarted node). The client pulls again only after two missed heartbeats,
   *   30 s, while a bounded read gives up after its timeout. A few times in a row, with a growing pause.
   */
  private watchConsumer(messages: ConsumerMessages): void {
    void (async () => {
      for await (const s of messages.status()) {
        const silent =
          s.type === 'heartbeats_missed' &&
          s.count >= SILENT_HEARTBEATS &&
          this.follow &&
          this.waitingSince !== undefined
        const unheard = s.type === 'no_responders' && this.noResponderReplacements < NO_RESPONDER_REPLACEMENTS
        if (!silent && !unheard && s.type !== 'ordered_consumer_recreated') continue
        if (this.replacing || this.closed) return
        if (unheard) this.noResponderReplacements++
        this.replacing = true
        // `next` hands out what is queued, then sees the end and replaces the consumer.
        messages.stop()
        return
      }
    })().catch(() => {})
  }

  /** The server stopped answering: nothing more is asked of it (not even to delete the consumer). */
  private stall(): StalledError {
    this.stalled = true
    this.conn.abandon()
    return new StalledError(
      this.conn.site,
      this.conn.url,
      `no answer for ${formatDuration(this.stallMs ?? 0)} while reading ${this.spec.stream}`,
    )
  }

  /**
   * The RFC 3339 form of a stored time (ms), as msg.time.toISOString() gives it: the last one is kept, since a
   * stream stores many messages in the same millisecond and a scan would otherwise format each of them.
   */
  private storedTime(ms: number): string {
    if (ms !== this.lastTimeMs) {
      this.lastTimeMs = ms
      this.lastTime = new Date(ms).toISOString()
    }
    return this.lastTime
  }

  /** Opens a new consumer after the last sequence handed out; retried until it works or the reader closes. */
  private async replace(): Promise<void> {
    const old = this.consumer
    void old?.delete().catch(() => {})
    // A pull that reached no one: the interest of a consumer just made may take a moment to spread.
    if (this.noResponderReplacements > 0) await sleep(NO_RESPONDER_PAUSE_MS * 2 ** (this.noResponderReplacements - 1))
    const since = Date.now()
    for (let attempt = 0; !this.closed; attempt++) {
      try {
        await this.createConsumer({opt_start_seq: Math.max(this.firstSeq, this.lastSeq + 1)})
        if (this.closed) {
          await this.consumer?.delete().catch(() => {})
          return
        }
        this.replacing = false
        await this.consume()
        return
      } catch (error) {
        if (error instanceof StreamMissing) throw error
        // A bounded read does not wait longer for a new consumer than for a message: the back-off never
        // sleeps past that bound (a 2s bound would otherwise end only after the 2s sleep that starts at 1.5s).
        const backoff = Math.min(500 * 2 ** attempt, 5000)
        if (this.stallMs === undefined) {
          await sleep(backoff)
          continue
        }
        const left = since + this.stallMs - Date.now()
        if (left <= 0) throw (this.failure = this.stall())
        await sleep(Math.min(backoff, left))
      }
    }
  }

  /** The first sequence stored at or after `from`: the server resolves it for a probe consumer, deleted at once. */
  private async sequenceAt(from: Date): Promise<number> {
    const js = await this.conn.js()
    // Placed like the reader's own consumer (an R1 ordered consumer, maybe on a just-killed peer): retried alike.
    const probe = await retryTransient(
      () =>
        js.consumers.get(this.spec.stream, {
          ...(this.spec.filterSubject ? {filter_subjects: this.spec.filterSubject} : {}),
          opt_start_time: from.toISOString(),
        }),
      {attempts: ORDERED_CONSUMER_ATTEMPTS, giveUpIf: () => this.conn.linkDown()},
    )
    const info = await probe.info(true)
    void probe.delete().catch(() => {})
    return info.delivered.stream_seq + 1
  }

  private accept(msg: JsMsg): StoredMessage | undefined {
    const data = msg.data
    if (this.needle && !this.needle.has(data)) return undefined
    const stored: StoredMessage = {
      site: this.conn.site.name,
      stream: this.spec.stream,
      seq: msg.seq,
      subject: msg.subject,
      time: this.storedTime(storedMillis(msg)),
      data,
    }
    if (this.options.headers && msg.headers) {
      const headers: Record<string, string[]> = {}
      for (const [key, values] of msg.headers) headers[key] = values
      stored.headers = headers
    }
    return stored
  }
}

/**
 * A single stream of one site read to the end of its history (no live part): the matching messages, in
 * stream order. Throws StreamMissing, or a StalledError when the server stops answering. Stopping early
 * (`break`) closes the consumer.
 */
export function readStream(
  conn: SiteConnection,
  spec: StreamSpec,
  options: Omit<ReadOptions, 'follow'> = {},
): AsyncIterable<StoredMessage> & {readonly scanned: number} {
  const reader = new StreamReader(conn, spec, {...options, follow: false})
  return {
    get scanned() {
      return reader.scanned
    },
    async *[Symbol.asyncIterator]() {
      const end = openBounded(reader, options.signal)
      try {
        if (!(await end.opened)) return
        for (let m = await reader.next(); m !== undefined; m = await reader.next()) if (m !== CAUGHT_UP) yield m
      } finally {
        await end.close()
      }
    },
  }
}

/**
 * readStream for a caller that only consumes: each matching message is handed to `take` as the reader returns
 * it, without a generator step (and its promises) per message between the reader and the caller, which a
 * scan of a million messages pays a million times. `take` returning false ends the read early (as a `break`
 * would). Resolves to the messages read (matched or not); throws as readStream does, and when `take` throws
 * (the consumer is closed either way).
 */
export async function drainStream(
  conn: SiteConnection,
  spec: StreamSpec,
  options: Omit<ReadOptions, 'follow'>,
  take: (message: StoredMessage) => boolean | void,
): Promise<number> {
  const reader = new StreamReader(conn, spec, {...options, follow: false}, true)
  const end = openBounded(reader, options.signal)
  try {
    if (!(await end.opened)) return reader.scanned
    for (;;) {
      // What the reader holds is taken without a promise each; `next` waits, and decides the history's end.
      for (let m = reader.poll(); m !== null; m = reader.poll()) if (take(m) === false) return reader.scanned
      const m = await reader.next()
      if (m === undefined) break
      if (m !== CAUGHT_UP && take(m) === false) break
    }
    return reader.scanned
  } finally {
    await end.close()
  }
}

/** Opens a bounded read that `signal` stops (false when it was stopped already); `close` ends it either way. */
function openBounded(
  reader: StreamReader,
  signal: AbortSignal | undefined,
): {opened: Promise<boolean>; close: () => Promise<void>} {
  const onAbort = () => void reader.close()
  signal?.addEventListener('abort', onAbort, {once: true})
  return {
    opened: signal?.aborted ? Promise.resolve(false) : reader.open().then(() => true),
    close: async () => {
      signal?.removeEventListener('abort', onAbort)
      await reader.close()
    },
  }
}

/** One stream of one site, in a read of several. */
export interface ReadSource extends StreamSpec {
  conn: SiteConnection
}

export interface ReadStreamsOptions extends ReadOptions {
  /**
   * `time`: the history merged across streams and sites by stored time, one message in memory per stream
   * (`tail`); `arrival`: each stream's history in its own order, streams interleaved as they arrive.
   * Live messages are always in arrival order.
   */
  order: 'time' | 'arrival'
  /** Report sites dropping and coming back (default: with `follow`). */
  siteEvents?: boolean
}

export type ReadEvent =
  | {kind: 'message'; message: StoredMessage}
  /** One stream of one site has handed out its history. */
  | {kind: 'stream-caught-up'; site: string; stream: string}
  /** Every stream's history is out (or failed): what follows is live. */
  | {kind: 'caught-up'}
  | {kind: 'stream-missing'; site: string; stream: string}
  /** A site could not be read (or stopped answering): its streams are closed; the others go on. */
  | {kind: 'site-error'; site: string; error: unknown}
  | {kind: 'site-down'; site: string}
  | {kind: 'site-up'; site: string}
  /** The read failed as a whole (a bug, not a site): nothing follows. */
  | {kind: 'failed'; error: unknown}

/**
 * Reads several streams of several sites (see the top of this file): events for messages, the history's
 * end per stream and overall, missing streams, failed sites and (live) sites dropping and coming back.
 * Memory stays bounded: a message is read only once the previous ones were taken. `signal` stops
 * everything and closes the consumers.
 */
export function readStreams(sources: readonly ReadSource[], options: ReadStreamsOptions): AsyncIterable<ReadEvent> {
  const queue = new EventQueue<ReadEvent>()
  void runRead(sources, options, queue).then(
    () => queue.end(),
    (error: unknown) => {
      queue.push({kind: 'failed', error})
      queue.end()
    },
  )
  return queue
}

async function runRead(
  sources: readonly ReadSource[],
  options: ReadStreamsOptions,
  queue: EventQueue<ReadEvent>,
): Promise<void> {
  const {signal} = options
  if (signal?.aborted) return
  const readers = sources.map(({conn, ...spec}) => new StreamReader(conn, spec, options))
  const failedSites = new Set<string>()
  const stops: Array<() => void> = []
  const fail = (site: string, error: unknown) => {
    if (failedSites.has(site)) return
    failedSites.add(site)
    queue.push({kind: 'site-error', site, error})
    for (const r of readers) if (r.site === site) void r.close()
  }
  const onAbort = () => {
    for (const r of readers) void r.close()
    queue.end()
  }
  signal?.addEventListener('abort', onAbort, {once: true})
  try {
    if (options.siteEvents ?? options.follow) {
      for (const conn of new Set(sources.map((s) => s.conn))) stops.push(watchLink(conn, queue))
    }
    const opened = await Promise.all(
      readers.map(async (reader) => {
        try {
          await reader.open()
          return true
        } catch (error) {
          if (error instanceof StreamMissing) {
            queue.push({kind: 'stream-missing', site: reader.site, stream: reader.stream})
          } else {
            fail(reader.site, error)
          }
          return false
        }
      }),
    )
    if (signal?.aborted) return
    const live = readers.filter((r, i) => opened[i] && !failedSites.has(r.site))
    for (const r of readers) if (!live.includes(r)) void r.close()

    /** The reader's next message or CAUGHT_UP; undefined at its end or when its site failed. */
    const step = async (reader: StreamReader) => {
      if (failedSites.has(reader.site)) return undefined
      try {
        const m = await reader.next()
        if (m === CAUGHT_UP) queue.push({kind: 'stream-caught-up', site: reader.site, stream: reader.stream})
        return m
      } catch (error) {
        if (!signal?.aborted) fail(reader.site, error)
        return undefined
      }
    }
    const pump = async (reader: StreamReader, onCaughtUp?: () => void) => {
      for (let m = await step(reader); m !== undefined && !queue.done; m = await step(reader)) {
        if (m === CAUGHT_UP) onCaughtUp?.()
        else await queue.put({kind: 'message', message: m})
      }
      onCaughtUp?.()
    }

    if (options.order === 'time') {
      // History: a k-way merge on stored time, one head per stream.
      const heads: Array<StoredMessage | undefined> = live.map(() => undefined)
      const stored: number[] = live.map(() => 0)
      const advance = async (i: number) => {
        const m = await step(live[i])
        heads[i] = m === CAUGHT_UP ? undefined : m
        stored[i] = live[i].storedNanos
      }
      const before = (i: number, j: number) => {
        const [a, b] = [heads[i]!, heads[j]!]
        if (stored[i] !== stored[j]) return stored[i] < stored[j]
        return a.site < b.site || (a.site === b.site && a.seq < b.seq)
      }
      await Promise.all(live.map((_, i) => advance(i)))
      for (;;) {
        let best = -1
        for (let i = 0; i < heads.length; i++) {
          if (heads[i] && (best < 0 || before(i, best))) best = i
        }
        if (best < 0 || queue.done) break
        await queue.put({kind: 'message', message: heads[best]!})
        await advance(best)
      }
      if (queue.done) return
      queue.push({kind: 'caught-up'})
      if (options.follow) await Promise.all(live.map((r) => pump(r)))
    } else {
      let behind = live.length
      const once = () => {
        let done = false
        return () => {
          if (done) return
          done = true
          if (--behind === 0) queue.push({kind: 'caught-up'})
        }
      }
      if (behind === 0) queue.push({kind: 'caught-up'})
      await Promise.all(live.map((r) => pump(r, once())))
    }
  } finally {
    signal?.removeEventListener('abort', onAbort)
    for (const stop of stops) stop()
    await Promise.all(readers.map((r) => r.close()))
  }
}

/** Reports a site going away and coming back; its consumers resume on their own. */
function watchLink(conn: SiteConnection, queue: EventQueue<ReadEvent>): () => void {
  const status = conn.nc.status()
  const site = conn.site.name
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
  // The status iterator is the client's QueuedIterator: stop() ends the loop above.
  return () => (status as Partial<QueuedIterator<unknown>>).stop?.()
}
