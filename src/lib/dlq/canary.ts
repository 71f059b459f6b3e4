import {STREAMS} from '../layout/names.js'
import type {SiteConnection} from '../nats/connection.js'
import {readStream} from '../nats/reader.js'
import {parseAdvisory} from './advisory.js'

/** A replayed copy whose outcome a canary waits for: where it was stored. */
export interface CanaryCopy {
  ref: string
  subject: string
  new_seq: number
}

export interface CanaryFailure {
  ref: string
  error: string
}

/**
 * A small, local outcome check for `dlq replay --canary` (until the shared replay outcomes of issue 16, part 3,
 * are on main): a copy has failed again when DV_DLQ holds a new dead-letter advisory for the copy's own stream
 * sequence. Polls DV_DLQ from `since` until every copy has failed or `waitMs` has passed; returns the failures.
 */
export async function canaryFailures(
  conn: SiteConnection,
  copies: readonly CanaryCopy[],
  options: {since: number; waitMs: number; signal?: AbortSignal},
): Promise<CanaryFailure[]> {
  if (copies.length === 0) return []
  const jsm = await conn.jsm()
  const streams = new Map<string, string | undefined>()
  for (const c of copies) {
    if (!streams.has(c.subject)) streams.set(c.subject, await jsm.streams.find(c.subject).catch(() => undefined))
  }
  const bySeq = new Map<string, CanaryCopy>()
  for (const c of copies) bySeq.set(`${streams.get(c.subject)}:${c.new_seq}`, c)
  const failed = new Map<string, CanaryFailure>()
  const until = Date.now() + options.waitMs
  for (;;) {
    const advisories = readStream(
      conn,
      {stream: STREAMS.dlq},
      {start: {time: new Date(options.since - 1000)}, ...(options.signal ? {signal: options.signal} : {})},
    )
    for await (const m of advisories) {
      const a = parseAdvisory(m.data, m.subject)
      const copy = a ? bySeq.get(`${a.stream}:${a.stream_seq}`) : undefined
      if (!a || !copy || failed.has(copy.ref)) continue
      const why = a.term_reason ? `: ${a.term_reason}` : ''
      failed.set(copy.ref, {
        ref: copy.ref,
        error: `its copy (${a.stream}:${a.stream_seq}) was dead-lettered again (${a.reason}${why})`,
      })
    }
    if (failed.size === copies.length || Date.now() >= until || options.signal?.aborted) break
    await new Promise((r) => setTimeout(r, 500))
  }
  return [...failed.values()]
}

/**
 * `dlq replay --halt-after K`: follows DV_DLQ (from where it last read, every `intervalMs`) while a replay runs,
 * and aborts `halt` once K of the copies sent so far have been dead-lettered again.
 */
export class HaltWatch {
  readonly halt = new AbortController()
  readonly failures: CanaryFailure[] = []
  private readonly copies = new Map<string, CanaryCopy>()
  private readonly streams = new Map<string, Promise<string | undefined>>()
  private nextSeq?: number
  private timer?: NodeJS.Timeout
  private busy = false

  constructor(
    private readonly conn: SiteConnection,
    private readonly limit: number,
    private readonly since: number,
    private readonly intervalMs = 1000,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.poll().catch(() => {}), this.intervalMs)
    this.timer.unref()
  }

  /** A copy acknowledged by the server (its stream sequence). */
  sent(copy: CanaryCopy): void {
    if (!this.streams.has(copy.subject)) {
      this.streams.set(
        copy.subject,
        this.conn.jsm().then((jsm) => jsm.streams.find(copy.subject).catch(() => undefined)),
      )
    }
    void this.streams.get(copy.subject)!.then((stream) => this.copies.set(`${stream}:${copy.new_seq}`, copy))
  }

  async stop(): Promise<void> {
    clearInterval(this.timer)
    if (!this.halt.signal.aborted) await this.poll().catch(() => {})
  }

  private async poll(): Promise<void> {
    if (this.busy || this.halt.signal.aborted) return
    this.busy = true
    try {
      const start = this.nextSeq !== undefined ? {seq: this.nextSeq} : {time: new Date(this.since - 1000)}
      for await (const m of readStream(this.conn, {stream: STREAMS.dlq}, {start})) {
        this.nextSeq = m.seq + 1
        const a = parseAdvisory(m.data, m.subject)
        const copy = a ? this.copies.get(`${a.stream}:${a.stream_seq}`) : undefined
        if (!a || !copy || this.failures.some((f) => f.ref === copy.ref)) continue
        const why = a.term_reason ? `: ${a.term_reason}` : ''
        this.failures.push({
          ref: copy.ref,
          error: `its copy (${a.stream}:${a.stream_seq}) was dead-lettered again (${a.reason}${why})`,
        })
      }
      if (this.failures.length >= this.limit) this.halt.abort()
    } finally {
      this.busy = false
    }
  }
}
