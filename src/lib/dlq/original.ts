import type {StreamInfo} from '@nats-io/jetstream'

import {DLQ_ARCHIVE_STREAM} from '../layout/names.js'
import type {SiteConnection} from '../nats/connection.js'
import {isNotFound, isStreamNotFound} from '../nats/errors.js'
import {drainStream, readStream, StreamMissing} from '../nats/reader.js'
import {archiveFilter, archiveSubject, type ArchivedOriginal, decodeArchived, parseArchiveSubject} from './archive.js'

/**
 * The dead command itself, fetched by stream and sequence; null when it is gone (deleted, aged out).
 * `source`: read from its own stream (absent or `stream`), or from the dead-letter archive (archive.ts),
 * which keeps its subject, stored time, headers and data as they were.
 */
export interface OriginalMessage {
  stream: string
  seq: number
  subject: string
  time: string
  data: Uint8Array
  headers: Record<string, string[]>
  source?: 'stream' | 'archive'
}

export type {ArchivedOriginal}

/** The envelope attributes a listing needs; null where the message is not a JSON envelope. */
export interface EnvelopeSummary {
  id: string | null
  type: string | null
  correlation_id: string | null
  causation_id: string | null
  tenant_id: string | null
}

const decoder = new TextDecoder()

/** Range reads pay off when at least one message in DENSITY of the range is wanted, and there are enough. */
const DENSITY = 8
const DENSE_MIN = 64

export function parseEnvelope(data: Uint8Array): Record<string, unknown> | null {
  try {
    const v = JSON.parse(decoder.decode(data)) as unknown
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : null
  } catch {
    return null
  }
}

export function summarizeEnvelope(envelope: Record<string, unknown> | null): EnvelopeSummary {
  const s = (k: string) => (envelope && typeof envelope[k] === 'string' ? (envelope[k] as string) : null)
  return {
    id: s('id'),
    type: s('type'),
    correlation_id: s('correlation_id'),
    causation_id: s('causation_id'),
    tenant_id: s('tenant_id'),
  }
}

/**
 * Reads originals by sequence: a direct get when the stream allows it (served by any replica, no API
 * round trip through the leader), else the stream's message-get API. The stream's info (whether it allows
 * direct get, when it was created) is asked once per stream.
 *
 * This is the one place originals are read: from their own stream (`get`, `each`), or, once the stream no
 * longer has them, from the dead-letter archive (`archived`, `eachArchived`, `forLetter`).
 */
export class OriginalReader {
  private readonly infos = new Map<string, Promise<StreamInfo | null>>()

  constructor(private readonly conn: SiteConnection) {}

  async get(stream: string, seq: number): Promise<OriginalMessage | null> {
    const jsm = await this.conn.jsm()
    const allowDirect = await this.allowsDirect(stream)
    if (allowDirect === null) return null
    let stored
    try {
      stored = allowDirect ? await jsm.direct.getMessage(stream, {seq}) : await jsm.streams.getMessage(stream, {seq})
    } catch (error) {
      if (isNotFound(error)) return null
      throw error
    }
    if (!stored) return null
    const headers: Record<string, string[]> = {}
    if (stored.header) for (const [k, v] of stored.header) headers[k] = v
    // A direct get answers with the stream's own headers on the message; they are not the original's.
    for (const k of Object.keys(headers))
      if (/^Nats-(Stream|Sequence|Time-Stamp|Subject|Last-Sequence|Num-Pending)$/i.test(k)) delete headers[k]
    return {
      stream,
      seq,
      subject: stored.subject,
      time: stored.time.toISOString(),
      data: stored.data,
      headers,
      source: 'stream',
    }
  }

  /**
   * Calls `fn` for each wanted sequence of `stream` with its original, or null when it is gone. When the
   * wanted sequences are dense in their range (dead letters usually are: a bad deploy, a poison batch),
   * one ordered consumer reads the range, which is an order of magnitude faster than one get per message;
   * sparse ones are fetched one by one, `window` gets in flight.
   */
  async each(
    stream: string,
    seqs: number[],
    window: number,
    fn: (seq: number, original: OriginalMessage | null) => void,
  ): Promise<void> {
    if (seqs.length === 0) return
    const sorted = [...seqs].sort((a, b) => a - b)
    const first = sorted[0]
    const last = sorted[sorted.length - 1]
    if ((await this.allowsDirect(stream)) === null) {
      for (const seq of sorted) fn(seq, null)
      return
    }
    if (sorted.length >= DENSE_MIN && last - first + 1 <= DENSITY * sorted.length) {
      const wanted = new Set(sorted)
      await this.scanRange(stream, first, last, (m) => {
        if (!wanted.delete(m.seq)) return
        fn(m.seq, m)
      })
      for (const seq of wanted) fn(seq, null)
      return
    }
    let next = 0
    await Promise.all(
      Array.from({length: Math.min(window, sorted.length)}, async () => {
        while (next < sorted.length) {
          const seq = sorted[next++]
          fn(seq, await this.get(stream, seq))
        }
      }),
    )
  }

  private async scanRange(stream: string, from: number, to: number, fn: (m: OriginalMessage) => void) {
    await drainStream(this.conn, {stream}, {start: {seq: from}, headers: true}, (m) => {
      fn({
        stream,
        seq: m.seq,
        subject: m.subject,
        time: m.time,
        data: m.data,
        headers: m.headers ?? {},
        source: 'stream',
      })
      return m.seq < to
    })
  }

  /**
   * The original a dead letter was listed with (read.ts): from its stream, or from the archive when the
   * listing found it there. Null when it is not there any more, or when what is there now is not the
   * message that was listed (another subject or stored time: the stream changed since).
   */
  async forLetter(letter: {
    stream: string
    seq: number
    subject: string | null
    original_time: string | null
    original_source?: 'stream' | 'archive' | null
  }): Promise<OriginalMessage | null> {
    const original =
      letter.original_source === 'archive'
        ? await this.archived(letter.stream, letter.seq)
        : await this.get(letter.stream, letter.seq)
    if (!original || original.subject !== letter.subject || original.time !== letter.original_time) return null
    return original
  }

  /**
   * The archived copy of `<stream>:<seq>` (archive.ts); null when there is none, when it is not a
   * well-formed copy, or when the site has no archive.
   */
  async archived(stream: string, seq: number): Promise<ArchivedOriginal | null> {
    const jsm = await this.conn.jsm()
    let stored
    try {
      stored = await jsm.streams.getMessage(DLQ_ARCHIVE_STREAM, {last_by_subj: archiveSubject(stream, seq)})
    } catch (error) {
      if (isNotFound(error) || isStreamNotFound(error)) return null
      throw error
    }
    if (!stored) return null
    const headers: Record<string, string[]> = {}
    if (stored.header) for (const [k, v] of stored.header) headers[k] = v
    return decodeArchived({
      subject: stored.subject,
      seq: stored.seq,
      time: stored.time.toISOString(),
      data: stored.data,
      headers,
    })
  }

  /**
   * Calls `fn` for each wanted sequence of `stream` with its archived copy, or null. Many wanted at once
   * are read with one ordered consumer over the stream's part of the archive; a few, one get each.
   */
  async eachArchived(
    stream: string,
    seqs: number[],
    window: number,
    fn: (seq: number, archived: ArchivedOriginal | null) => void,
  ): Promise<void> {
    if (seqs.length === 0) return
    const wanted = new Set(seqs)
    if (seqs.length >= DENSE_MIN) {
      try {
        for await (const m of readStream(
          this.conn,
          {stream: DLQ_ARCHIVE_STREAM, filterSubject: archiveFilter(stream)},
          {headers: true},
        )) {
          const at = parseArchiveSubject(m.subject)
          if (!at || !wanted.delete(at.seq)) continue
          fn(at.seq, decodeArchived({...m, headers: m.headers ?? {}}))
        }
      } catch (error) {
        if (!(error instanceof StreamMissing)) throw error
      }
      for (const seq of wanted) fn(seq, null)
      return
    }
    const list = [...wanted]
    let next = 0
    await Promise.all(
      Array.from({length: Math.min(window, list.length)}, async () => {
        while (next < list.length) {
          const seq = list[next++]
          fn(seq, await this.archived(stream, seq))
        }
      }),
    )
  }

  /**
   * The sequences of `stream` that have a copy in the archive (one stream-info request, its subjects);
   * null when the site has no archive.
   */
  async archivedSeqs(stream: string): Promise<Set<number> | null> {
    const jsm = await this.conn.jsm()
    let info
    try {
      info = await jsm.streams.info(DLQ_ARCHIVE_STREAM, {subjects_filter: archiveFilter(stream)})
    } catch (error) {
      if (isStreamNotFound(error)) return null
      throw error
    }
    const seqs = new Set<number>()
    for (const subject of Object.keys(info.state.subjects ?? {})) {
      const at = parseArchiveSubject(subject)
      if (at && at.stream === stream) seqs.add(at.seq)
    }
    return seqs
  }

  /** true/false, or null when the stream does not exist (every original in it is missing). */
  private async allowsDirect(stream: string): Promise<boolean | null> {
    const info = await this.info(stream)
    return info ? Boolean(info.config.allow_direct) : null
  }

  /** The stream's info, read once per stream; null when the stream does not exist. */
  info(stream: string): Promise<StreamInfo | null> {
    let p = this.infos.get(stream)
    if (!p) {
      p = (async () => {
        const jsm = await this.conn.jsm()
        try {
          return await jsm.streams.info(stream)
        } catch (error) {
          if (isStreamNotFound(error)) return null
          throw error
        }
      })()
      this.infos.set(stream, p)
    }
    return p
  }
}
