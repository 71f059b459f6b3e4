import type {Consumer, ConsumerMessages, JsMsg} from '@nats-io/jetstream'

import {nextWithin, withinOrStalled} from '../nats/bounded-read.js'
import type {SiteConnection} from '../nats/connection.js'
import {isStreamNotFound, StalledError} from '../nats/errors.js'
import {ORDERED_CONSUMER_ATTEMPTS, retryTransient} from '../nats/transient.js'

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

export interface StreamCursorOptions {
  stream: string
  /** Server-side filter; only a subset of the stream's subjects (2.9 refuses anything else). */
  filterSubject?: string
  window: ScanWindow
  /**
   * Raw-byte pre-filter: a message whose payload does not contain these bytes is skipped without being
   * decoded (DESIGN.md section 7: "pre-filtering raw bytes for the id before parsing JSON").
   */
  needle?: Uint8Array
  /** Keep reading after the history (live). */
  follow: boolean
  /** Skip the history entirely: only messages stored after the cursor opened (`deliver_policy: new`). */
  liveOnly?: boolean
  headers?: boolean
  /** Messages per pull request; larger batches drain faster. */
  batch?: number
  /**
   * A read that gets nothing from the server for this long fails with a StalledError (exit 4). Default:
   * the connection's timeout without `follow`; none with it (a quiet stream is normal when following, and
   * a lost site is waited for).
   */
  stallMs?: number
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
 * Reads one stream of one site with an ordered consumer (the client recreates it after a reconnect or a
 * server restart, from the last stream sequence seen). History ends where the stream ended when the cursor
 * was opened (the consumer's `num_pending` then), so a bounded read never chases new writes; with `follow`
 * the same consumer then goes on live. Messages are never repeated: a sequence at or below the last one
 * handed out is dropped.
 */
export class StreamCursor {
  /** Messages of the stream read so far, matched or not (for benchmarks and progress). */
  scanned = 0
  private delivered = 0
  private lastSeq = 0
  private stash: StoredMessage | undefined
  private historyDone: boolean
  private closed = false
  private stopped = false
  /** The server stopped answering: nothing more is read and nothing is asked of it on close. */
  private stalled = false
  private readonly stallMs: number | undefined
  private readonly to: number | undefined
  private readonly needle: Buffer | undefined

  private constructor(
    readonly conn: SiteConnection,
    readonly options: StreamCursorOptions,
    private readonly consumer: Consumer,
    private readonly messages: ConsumerMessages | undefined,
    private readonly iterator: AsyncIterator<JsMsg> | undefined,
    /** Messages in the history part (the consumer's num_pending when it was created). */
    readonly historySize: number,
  ) {
    this.historyDone = historySize === 0
    this.stallMs = stallOf(conn, options)
    this.to = options.window.to?.getTime()
    this.needle = options.needle ? Buffer.from(options.needle) : undefined
  }

  static async open(conn: SiteConnection, options: StreamCursorOptions): Promise<StreamCursor> {
    const js = await conn.js()
    const filter = options.filterSubject ? {filter_subjects: options.filterSubject} : {}
    let consumer: Consumer
    try {
      // Always by start sequence: when the client recreates an ordered consumer (reconnect, server restart)
      // it resumes by sequence, and a leftover opt_start_time or deliver_policy `new` would be refused or
      // would restart from the stream's beginning.
      const startSeq = await startSequence(conn, options)
      // Retried only while the link is up: a cluster placing it on a dead peer, not a server that is gone
      // (that must end the read within --timeout).
      consumer = await retryTransient(() => js.consumers.get(options.stream, {...filter, opt_start_seq: startSeq}), {
        attempts: ORDERED_CONSUMER_ATTEMPTS,
        giveUpIf: () => conn.linkDown(),
      })
    } catch (error) {
      if (isStreamNotFound(error)) throw new StreamMissing(options.stream)
      throw error
    }
    const info = await consumer.info(true)
    const historySize = info.num_pending
    if (historySize === 0 && !options.follow) {
      await consumer.delete().catch(() => {})
      return new StreamCursor(conn, options, consumer, undefined, undefined, 0)
    }
    const batch = options.batch ?? DEFAULT_BATCH
    const consuming = consumer.consume({max_messages: batch})
    const stallMs = stallOf(conn, options)
    // An ordered consumer that cannot be created is retried for ever by the client.
    const messages =
      stallMs === undefined
        ? await consuming
        : await withinOrStalled(consuming, conn, stallMs, `reading ${options.stream}`)
    if (options.follow) recreateWhenSilent(messages)
    return new StreamCursor(conn, options, consumer, messages, messages[Symbol.asyncIterator](), historySize)
  }

  get site(): string {
    return this.conn.site.name
  }

  get stream(): string {
    return this.options.stream
  }

  /** True once every message of the history part was read. */
  get caughtUp(): boolean {
    return this.historyDone
  }

  /**
   * The next matching message of the history, or undefined once the history is read. A live message
   * met on the way is kept for `nextLive`.
   */
  async nextHistory(): Promise<StoredMessage | undefined> {
    while (!this.historyDone && this.iterator) {
      const r = await this.next(this.iterator)
      if (r.done) {
        this.historyDone = true
        this.closed = true
        return undefined
      }
      const msg = r.value
      this.scanned++
      const inHistory = this.delivered < this.historySize
      this.delivered++
      if (this.delivered >= this.historySize) this.historyDone = true
      if (this.to !== undefined && inHistory && msg.time.getTime() > this.to) {
        this.historyDone = true
        return undefined
      }
      const stored = this.accept(msg)
      if (!stored) continue
      if (inHistory) return stored
      this.stash = stored
      return undefined
    }
    return undefined
  }

  /** The next matching live message (after the history); undefined when the cursor is closed. */
  async nextLive(): Promise<StoredMessage | undefined> {
    while (!this.historyDone) {
      const m = await this.nextHistory()
      if (m) continue // history not consumed by the caller is skipped: callers read it first
    }
    if (this.stash) {
      const m = this.stash
      this.stash = undefined
      return m
    }
    while (this.iterator && !this.closed) {
      const r = await this.next(this.iterator)
      if (r.done) break
      this.scanned++
      const stored = this.accept(r.value)
      if (stored) return stored
    }
    this.closed = true
    return undefined
  }

  /**
   * Stops the consumer and deletes it on the server (an ordered consumer would otherwise linger until its
   * inactivity threshold); pending `nextLive` calls end with undefined.
   */
  async close(): Promise<void> {
    if (!this.messages || this.stopped) return
    this.stopped = true
    this.closed = true
    // stop() rather than close(): close() waits for the iterator to be read to its end.
    this.messages.stop()
    if (!this.stalled && !this.conn.nc.isClosed()) await this.consumer.delete().catch(() => {})
  }

  /** The iterator's next message, within the stall bound; a stall ends the cursor for good. */
  private async next(iterator: AsyncIterator<JsMsg>): Promise<IteratorResult<JsMsg>> {
    try {
      return await nextWithin(iterator, this.conn, this.stallMs, `reading ${this.options.stream}`)
    } catch (error) {
      if (error instanceof StalledError) {
        this.stalled = true
        this.historyDone = true
        await this.close()
      }
      throw error
    }
  }

  private accept(msg: JsMsg): StoredMessage | undefined {
    const seq = msg.seq
    if (seq <= this.lastSeq) return undefined
    this.lastSeq = seq
    const data = msg.data
    if (this.needle && Buffer.prototype.indexOf.call(data, this.needle) === -1) return undefined
    const stored: StoredMessage = {
      site: this.conn.site.name,
      stream: this.options.stream,
      seq,
      subject: msg.subject,
      time: msg.time.toISOString(),
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

function stallOf(conn: SiteConnection, options: StreamCursorOptions): number | undefined {
  return options.stallMs ?? (options.follow ? undefined : conn.timeoutMs)
}

/**
 * An ordered consumer is a single replica on one server of a clustered stream. When that server dies,
 * the client only checks the consumer (an info request nobody answers) and waits for it forever; once
 * its heartbeats are missed, have the client recreate it instead (from the last sequence seen, as it does
 * after a reconnect) so that a live read goes on from a surviving server.
 */
function recreateWhenSilent(messages: ConsumerMessages): void {
  // The client's own recovery path (used when the consumer is reported missing), reached from outside.
  const internals = messages as unknown as {
    reset?: () => void
    pending?: {msgs: number; bytes: number; requests: number}
  }
  const reset = internals.reset
  if (typeof reset !== 'function') return
  void (async () => {
    for await (const s of messages.status()) {
      if (s.type !== 'heartbeats_missed' || s.count < 2) continue
      // The pulls sent to the lost consumer are void: without this the new consumer is asked for what
      // the old one still "owed", i.e. almost nothing, until the client's next check.
      if (internals.pending) Object.assign(internals.pending, {msgs: 0, bytes: 0, requests: 0})
      reset.call(messages)
    }
  })().catch(() => {})
}

/** The first sequence to read: after the stream's end (live only), at `window.from`, or the beginning. */
async function startSequence(conn: SiteConnection, options: StreamCursorOptions): Promise<number> {
  if (options.liveOnly) {
    const jsm = await conn.jsm()
    const info = await jsm.streams.info(options.stream)
    return info.state.last_seq + 1
  }
  if (!options.window.from) return 1
  // The server resolves a time to a sequence when it creates a consumer: a probe, deleted at once.
  const js = await conn.js()
  // Placed like the cursor's own consumer (an R1 ordered consumer, maybe on a just-killed peer): retried alike.
  const probe = await retryTransient(
    () =>
      js.consumers.get(options.stream, {
        ...(options.filterSubject ? {filter_subjects: options.filterSubject} : {}),
        opt_start_time: options.window.from!.toISOString(),
      }),
    {attempts: ORDERED_CONSUMER_ATTEMPTS, giveUpIf: () => conn.linkDown()},
  )
  const info = await probe.info(true)
  void probe.delete().catch(() => {})
  return info.delivered.stream_seq + 1
}
