import {DLQ_ARCHIVE_PREFIX, DLQ_ARCHIVE_STREAM} from '../layout/names.js'
import type {SiteConnection} from '../nats/connection.js'
import {isStreamNotFound} from '../nats/errors.js'
import type {AckedPublisher, HeaderList} from '../nats/publisher.js'
import {supportsMessageTtl} from '../nats/server-version.js'
import {retryTransient} from '../nats/transient.js'
import type {OriginalMessage} from './original.js'

/**
 * The dead-letter archive (docs/contract.md, "The dead-letter archive"): stream DV_DLQ_ARCHIVE, one message
 * per dead letter on `dvarchive.<stream>.<seq>` (`max_msgs_per_subject: 1`, so a later copy replaces the
 * earlier one). The message's data is the original command's data, byte for byte; its headers carry the
 * original's subject, stored time and headers, and the advisory it was archived for:
 *
 * - `Dv-Archive-Ref`: `<stream>:<seq>` of the original;
 * - `Dv-Archive-Subject`, `Dv-Archive-Time`: the original's subject and when its stream stored it;
 * - `Dv-Archive-Stream-Created`: when that stream was created (which incarnation of it held the original);
 * - `Dv-Archive-Headers`: the original's headers as JSON (`{"name": ["value", ...]}`), absent when it had none;
 * - `Dv-Archive-Advisory`: JSON `{stream, seq, consumer, reason, deliveries, timestamp}`, the advisory that
 *   had it archived and where DV_DLQ stores it;
 * - `Dv-Archive-State`: `pending` (kept until the archive stream is deleted) or `handled` (replayed or
 *   discarded; on nats-server 2.11+ it may carry a `Nats-TTL`);
 * - `Dv-Archive-By`, `Dv-Archive-At`: who wrote the copy (`capture`, `list`) and when;
 * - `Nats-Msg-Id`: `dvarchive.<stream>.<seq>.<stored ms>[.handled]`, or with `.<state>.<replay id>` when a
 *   replay's outcome decided the state, so that two writers of the same copy within the duplicate window store
 *   it once.
 */
export const ARCHIVE_HEADERS = {
  ref: 'Dv-Archive-Ref',
  subject: 'Dv-Archive-Subject',
  time: 'Dv-Archive-Time',
  created: 'Dv-Archive-Stream-Created',
  headers: 'Dv-Archive-Headers',
  advisory: 'Dv-Archive-Advisory',
  state: 'Dv-Archive-State',
  by: 'Dv-Archive-By',
  at: 'Dv-Archive-At',
} as const

export type ArchiveState = 'pending' | 'handled'

/** The advisory a copy was archived for, as recorded in `Dv-Archive-Advisory`. */
export interface ArchivedAdvisory {
  /** Where DV_DLQ stores the advisory. */
  stream: string
  seq: number
  consumer: string
  reason: string
  deliveries: number | null
  timestamp: string | null
}

/** An original read back from the archive. */
export interface ArchivedOriginal extends OriginalMessage {
  source: 'archive'
  /** When the stream that stored the original was created; null when the copy does not say. */
  stream_created: string | null
  advisory: ArchivedAdvisory | null
  state: ArchiveState
  archived_at: string | null
  archived_by: string | null
  /** Where the archive stores the copy. */
  archive_seq: number
}

/** Headers of a copy larger than this are not a copy dvctl wrote (the server's max_payload is 1 MiB by default). */
const MAX_HEADERS_JSON = 1024 * 1024

export function archiveSubject(stream: string, seq: number): string {
  return `${DLQ_ARCHIVE_PREFIX}.${stream}.${seq}`
}

/** The archive's subjects of one stream's dead letters. */
export function archiveFilter(stream: string): string {
  return `${DLQ_ARCHIVE_PREFIX}.${stream}.>`
}

/** `dvarchive.<stream>.<seq>` back to its parts; undefined for anything else. */
export function parseArchiveSubject(subject: string): {stream: string; seq: number} | undefined {
  const m = subject.match(/^dvarchive\.([^.*>\s]+)\.(\d{1,16})$/)
  if (!m) return undefined
  const seq = Number(m[2])
  return Number.isSafeInteger(seq) && seq > 0 ? {stream: m[1], seq} : undefined
}

/**
 * Decodes a stored archive message. The archive is a stream like any other: anyone allowed to publish on
 * `dvarchive.>` can put a message there, so everything is checked and a message that is not a well-formed
 * copy is null (the dead letter is then `missing`, as without an archive).
 */
export function decodeArchived(m: {
  subject: string
  seq: number
  time: string
  data: Uint8Array
  headers: Record<string, string[]>
}): ArchivedOriginal | null {
  const at = parseArchiveSubject(m.subject)
  if (!at) return null
  const one = (name: string): string | undefined => {
    const values = m.headers[name]
    return values && values.length === 1 ? values[0] : undefined
  }
  if (one(ARCHIVE_HEADERS.ref) !== `${at.stream}:${at.seq}`) return null
  const subject = one(ARCHIVE_HEADERS.subject)
  const time = one(ARCHIVE_HEADERS.time)
  if (!subject || /\s/.test(subject) || !time || !Number.isFinite(Date.parse(time))) return null
  let headers: Record<string, string[]> = {}
  const headersJson = one(ARCHIVE_HEADERS.headers)
  if (headersJson !== undefined) {
    const parsed = headersJson.length <= MAX_HEADERS_JSON ? parseJson(headersJson) : undefined
    if (!isHeaderMap(parsed)) return null
    headers = parsed
  }
  const created = one(ARCHIVE_HEADERS.created)
  return {
    source: 'archive',
    stream: at.stream,
    seq: at.seq,
    subject,
    time: new Date(Date.parse(time)).toISOString(),
    data: m.data,
    headers,
    stream_created: created && Number.isFinite(Date.parse(created)) ? created : null,
    advisory: archivedAdvisory(parseJson(one(ARCHIVE_HEADERS.advisory) ?? '')),
    state: one(ARCHIVE_HEADERS.state) === 'handled' ? 'handled' : 'pending',
    archived_at: one(ARCHIVE_HEADERS.at) ?? null,
    archived_by: one(ARCHIVE_HEADERS.by) ?? null,
    archive_seq: m.seq,
  }
}

/** What one archive write needs: the original as read from its stream, and the advisory behind it. */
export interface ArchiveCopy {
  original: OriginalMessage
  /** When the original's stream was created (its incarnation). */
  streamCreated: string
  /** The advisory, with where DV_DLQ stores it (`stream`, `seq`); null when not known (a copy written again). */
  advisory: ArchivedAdvisory | null
  state: ArchiveState
  by: 'capture' | 'list'
  /** With `state: handled` on a server and archive that allow it: the copy expires after this long. */
  ttlMs?: number
  /**
   * The replay whose outcome decided the state (capture.ts follows replays): part of the Nats-Msg-Id, so a copy
   * marked pending again after a failed replay (or handled again after a later one) is not dropped as a
   * duplicate of the earlier write of that state.
   */
  replayId?: string
}

/** The archive message for a copy: same data, the original's facts in `Dv-Archive-*` headers (above). */
export function archiveMessage(copy: ArchiveCopy): {subject: string; headers: HeaderList; msgID: string} {
  const {original, advisory} = copy
  const h: Array<[string, string]> = [
    [ARCHIVE_HEADERS.ref, `${original.stream}:${original.seq}`],
    [ARCHIVE_HEADERS.subject, original.subject],
    [ARCHIVE_HEADERS.time, original.time],
  ]
  if (copy.streamCreated) h.push([ARCHIVE_HEADERS.created, copy.streamCreated])
  // JSON keeps every byte of every value (and escapes anything a header line could not carry).
  if (Object.keys(original.headers).length) h.push([ARCHIVE_HEADERS.headers, JSON.stringify(original.headers)])
  if (advisory) {
    const recorded: ArchivedAdvisory = {
      stream: advisory.stream,
      seq: advisory.seq,
      consumer: advisory.consumer,
      reason: advisory.reason,
      deliveries: advisory.deliveries,
      timestamp: advisory.timestamp,
    }
    h.push([ARCHIVE_HEADERS.advisory, JSON.stringify(recorded)])
  }
  h.push(
    [ARCHIVE_HEADERS.state, copy.state],
    [ARCHIVE_HEADERS.by, copy.by],
    [ARCHIVE_HEADERS.at, new Date().toISOString()],
  )
  // The server expires the copy (2.11+, an archive that allows it): what the client's `ttl` option would set.
  if (copy.state === 'handled' && copy.ttlMs) h.push(['Nats-TTL', `${Math.max(1, Math.ceil(copy.ttlMs / 1000))}s`])
  const stored = Date.parse(original.time)
  return {
    subject: archiveSubject(original.stream, original.seq),
    headers: h,
    msgID: `${archiveSubject(original.stream, original.seq)}.${stored}${copy.replayId ? `.${copy.state}.${copy.replayId}` : copy.state === 'handled' ? '.handled' : ''}`,
  }
}

/**
 * Stores one copy; resolves once the archive acknowledged it (a repeat within the window is a duplicate).
 * Writers of many copies at once pass their `publisher` (pipelined, one reply subscription for all).
 */
export async function writeArchiveCopy(
  conn: SiteConnection,
  copy: ArchiveCopy,
  publisher?: AckedPublisher,
): Promise<{seq: number}> {
  const {subject, headers, msgID} = archiveMessage(copy)
  const data = copy.original.data
  if (publisher) return {seq: (await retryTransient(() => publisher.publish(subject, data, {msgID, headers}))).seq}
  const [js, lib] = await Promise.all([conn.js(), import('@nats-io/transport-node')])
  const h = lib.headers()
  for (const [name, value] of headers) h.append(name, value)
  const ack = await retryTransient(() => js.publish(subject, data, {msgID, headers: h}))
  return {seq: ack.seq}
}

/**
 * What the site's archive can do: absent (the layout was not applied), and whether a handled copy may
 * carry a per-message TTL (nats-server 2.11+ and `allow_msg_ttl` on the archive).
 */
export interface ArchiveSupport {
  present: boolean
  ttl: boolean
  /** Why a TTL is not possible, in words; null when it is. */
  ttlUnavailable: string | null
}

export async function archiveSupport(conn: SiteConnection): Promise<ArchiveSupport> {
  const jsm = await conn.jsm()
  const version = (await conn.identity()).serverVersion
  let allowTtl: boolean
  try {
    const info = await jsm.streams.info(DLQ_ARCHIVE_STREAM)
    allowTtl = Boolean((info.config as {allow_msg_ttl?: boolean}).allow_msg_ttl)
  } catch (error) {
    if (isStreamNotFound(error)) return {present: false, ttl: false, ttlUnavailable: `${DLQ_ARCHIVE_STREAM} is missing`}
    throw error
  }
  if (!supportsMessageTtl(version ?? undefined)) {
    return {
      present: true,
      ttl: false,
      ttlUnavailable: `nats-server ${version ?? '(unknown version)'} has no per-message TTL (2.11+): archived copies are kept until deleted`,
    }
  }
  if (!allowTtl) {
    return {
      present: true,
      ttl: false,
      ttlUnavailable: `${DLQ_ARCHIVE_STREAM} does not allow per-message TTL (allow_msg_ttl; dvctl layout apply sets it on 2.11+): archived copies are kept`,
    }
  }
  return {present: true, ttl: true, ttlUnavailable: null}
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown
  } catch {
    return undefined
  }
}

function isHeaderMap(v: unknown): v is Record<string, string[]> {
  if (!v || typeof v !== 'object' || Array.isArray(v)) return false
  return Object.values(v).every((values) => Array.isArray(values) && values.every((x) => typeof x === 'string'))
}

function archivedAdvisory(v: unknown): ArchivedAdvisory | null {
  if (!v || typeof v !== 'object' || Array.isArray(v)) return null
  const a = v as Record<string, unknown>
  if (typeof a.stream !== 'string' || typeof a.seq !== 'number' || !Number.isSafeInteger(a.seq)) return null
  return {
    stream: a.stream,
    seq: a.seq,
    consumer: typeof a.consumer === 'string' ? a.consumer : '',
    reason: typeof a.reason === 'string' ? a.reason : '',
    deliveries: typeof a.deliveries === 'number' ? a.deliveries : null,
    timestamp: typeof a.timestamp === 'string' ? a.timestamp : null,
  }
}
