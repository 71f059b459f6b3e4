import type {Problem} from '../contract/problems.js'
import type {DeadLetterReason} from './model.js'

/**
 * The server's dead-letter advisories captured by DV_DLQ (docs/operations.md, dead letters): `max_deliver`
 * (`$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.<stream>.<consumer>`) and `terminated`
 * (`...MSG_TERMINATED...`). Fields beyond the ones read here (and their absence on older servers:
 * `reason` is 2.10.4+, `domain` only with a JetStream domain) are tolerated.
 *
 * Advisories are untrusted input: anyone allowed to publish on `$JS.EVENT.ADVISORY.CONSUMER.>` can put a
 * message into DV_DLQ. Every field is checked here; what fails is reported as problems, never thrown.
 */
export interface DeadLetterAdvisory {
  reason: DeadLetterReason
  /** The advisory's own type, e.g. `io.nats.jetstream.advisory.v1.max_deliver`. */
  type: string
  stream: string
  consumer: string
  stream_seq: number
  consumer_seq: number | null
  deliveries: number | null
  /** When the server gave up (the advisory's timestamp), RFC 3339; null when the advisory has none. */
  timestamp: string | null
  /** The term reason a worker gave (`msg.term(reason)`, 2.10.4+). */
  term_reason: string | null
  domain: string | null
}

/** What could be read of an advisory that failed its checks: enough to list it, never enough to act on it. */
export interface InvalidAdvisory {
  reason: DeadLetterReason
  stream: string
  consumer: string
  stream_seq: number
  deliveries: number | null
  timestamp: string | null
  domain: string | null
  problems: Problem[]
}

export type AdvisoryCheck = {ok: true; advisory: DeadLetterAdvisory} | {ok: false; invalid: InvalidAdvisory}

/** The two advisory types the server sends for a dead letter, and the subject token of each. */
const TYPES: Record<string, {reason: DeadLetterReason; token: string}> = {
  'io.nats.jetstream.advisory.v1.max_deliver': {reason: 'max_deliveries', token: 'MAX_DELIVERIES'},
  'io.nats.jetstream.advisory.v1.terminated': {reason: 'terminated', token: 'MSG_TERMINATED'},
}
const SUBJECT_PREFIX = '$JS.EVENT.ADVISORY.CONSUMER.'

/** A real advisory is a few hundred bytes; anything far larger is not one and is not decoded. */
export const MAX_ADVISORY_BYTES = 64 * 1024
/** Advisories are flat objects; nesting beyond this is refused before JSON.parse. */
const MAX_DEPTH = 16
/** JetStream's limit on stream and consumer names (the server's JSMaxNameLen). */
export const MAX_NAME_LENGTH = 255
/** How much of a bad name is kept for display. */
const SHOWN_NAME = 64

const decoder = new TextDecoder()

/**
 * Decodes one DV_DLQ message, with `subject` (where DV_DLQ stored it) when known: a valid advisory, or
 * what could be read of an invalid one with its problems. Never throws.
 */
export function checkAdvisory(data: Uint8Array, subject?: string): AdvisoryCheck {
  const problems: Problem[] = []
  const bad = (path: string, code: string, message: string) => problems.push({path, code, message})
  const subjectReason = subject ? reasonOfSubject(subject) : undefined
  const invalid = (a: Record<string, unknown> = {}): AdvisoryCheck => ({
    ok: false,
    invalid: {
      reason: TYPES[String(a.type)]?.reason ?? subjectReason ?? 'max_deliveries',
      stream: shownName(a.stream),
      consumer: shownName(a.consumer),
      stream_seq: typeof a.stream_seq === 'number' && Number.isSafeInteger(a.stream_seq) ? a.stream_seq : 0,
      deliveries: isCount(a.deliveries) ? a.deliveries : null,
      timestamp: typeof a.timestamp === 'string' && isTimestamp(a.timestamp) ? a.timestamp : null,
      domain: typeof a.domain === 'string' ? a.domain.slice(0, SHOWN_NAME) : null,
      problems,
    },
  })

  if (data.length > MAX_ADVISORY_BYTES) {
    bad('$', 'too-large', `${data.length} bytes; an advisory is at most ${MAX_ADVISORY_BYTES} bytes`)
    return invalid()
  }
  if (depthBound(data) > MAX_DEPTH) {
    bad('$', 'too-deep', `nested deeper than ${MAX_DEPTH} levels; an advisory is a flat object`)
    return invalid()
  }
  let value: unknown
  try {
    value = JSON.parse(decoder.decode(data))
  } catch {
    bad('$', 'not-json', 'not a JSON document')
    return invalid()
  }
  if (!value || typeof value !== 'object' || Array.isArray(value)) {
    bad('$', 'not-object', 'not a JSON object')
    return invalid()
  }
  const a = value as Record<string, unknown>

  const kind = typeof a.type === 'string' ? TYPES[a.type] : undefined
  if (!kind) bad('$.type', 'bad-type', `type ${shown(a.type)} is not a dead-letter advisory type`)
  if (!isName(a.stream)) bad('$.stream', 'bad-stream', `stream ${shown(a.stream)} is not a valid stream name`)
  if (!isName(a.consumer))
    bad('$.consumer', 'bad-consumer', `consumer ${shown(a.consumer)} is not a valid consumer name`)
  if (!isPositive(a.stream_seq))
    bad('$.stream_seq', 'bad-stream-seq', `stream_seq ${shown(a.stream_seq)} is not a sequence (an integer from 1)`)
  if (!optional(a.consumer_seq, isPositive))
    bad('$.consumer_seq', 'bad-consumer-seq', `consumer_seq ${shown(a.consumer_seq)} is not a sequence`)
  // 0 is what the server reports for a message it gave up without delivering it (dropped pending messages).
  if (!optional(a.deliveries, isCount))
    bad('$.deliveries', 'bad-deliveries', `deliveries ${shown(a.deliveries)} is not a count (an integer from 0)`)
  if (!optional(a.timestamp, (v) => typeof v === 'string' && isTimestamp(v)))
    bad('$.timestamp', 'bad-timestamp', `timestamp ${shown(a.timestamp)} is not an RFC 3339 time`)
  if (!optional(a.reason, (v) => typeof v === 'string'))
    bad('$.reason', 'bad-reason', `reason ${shown(a.reason)} is not a string`)
  if (!optional(a.domain, (v) => typeof v === 'string'))
    bad('$.domain', 'bad-domain', `domain ${shown(a.domain)} is not a string`)
  // The server publishes each advisory on a subject naming its stream and consumer: a body that names
  // others was not written by the server.
  if (subject !== undefined && kind && isName(a.stream) && isName(a.consumer)) {
    const expected = `${SUBJECT_PREFIX}${kind.token}.${a.stream}.${a.consumer}`
    if (subject !== expected)
      bad('subject', 'subject-mismatch', `stored on ${shown(subject)}, but its body says ${expected}`)
  }
  if (problems.length || !kind) return invalid(a)

  return {
    ok: true,
    advisory: {
      reason: kind.reason,
      type: a.type as string,
      stream: a.stream as string,
      consumer: a.consumer as string,
      stream_seq: a.stream_seq as number,
      consumer_seq: isPositive(a.consumer_seq) ? a.consumer_seq : null,
      deliveries: isCount(a.deliveries) ? a.deliveries : null,
      timestamp: typeof a.timestamp === 'string' ? a.timestamp : null,
      term_reason: typeof a.reason === 'string' && a.reason ? a.reason : null,
      domain: typeof a.domain === 'string' && a.domain ? a.domain : null,
    },
  }
}

/** Decodes one DV_DLQ message; anything that is not a valid dead-letter advisory is null. */
export function parseAdvisory(data: Uint8Array, subject?: string): DeadLetterAdvisory | null {
  const checked = checkAdvisory(data, subject)
  return checked.ok ? checked.advisory : null
}

/**
 * An advisory belongs to a site only when it comes from that site's JetStream domain (docs/operations.md, layouts):
 * a leaf-node link could otherwise carry another site's advisories into this site's DV_DLQ.
 */
export function belongsToSite(advisory: Pick<DeadLetterAdvisory, 'domain'>, siteDomain: string | null): boolean {
  if (advisory.domain === null) return true
  return advisory.domain === siteDomain
}

/**
 * A stream or consumer name as JetStream allows it: not empty, at most 255 characters, no whitespace, no
 * `.`, `*` or `>` (they would split or widen the API subjects that carry it), no path separators. Other
 * control characters are names the server accepts (a consumer named with an escape sequence dead-letters
 * like any other), so they are valid here and only ever shown sanitised.
 */
export function isName(v: unknown): v is string {
  return typeof v === 'string' && v.length > 0 && v.length <= MAX_NAME_LENGTH && !/[\s.*>/\\]/.test(v)
}

function reasonOfSubject(subject: string): DeadLetterReason | undefined {
  if (subject.startsWith(`${SUBJECT_PREFIX}MAX_DELIVERIES.`)) return 'max_deliveries'
  if (subject.startsWith(`${SUBJECT_PREFIX}MSG_TERMINATED.`)) return 'terminated'
  return undefined
}

function isPositive(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 1
}

function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0
}

function optional(v: unknown, check: (v: unknown) => boolean): boolean {
  return v === undefined || v === null || check(v)
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/

function isTimestamp(v: string): boolean {
  return RFC3339.test(v) && Number.isFinite(Date.parse(v))
}

/** A name as far as it can be shown: a string, cut to a readable length. */
function shownName(v: unknown): string {
  if (typeof v !== 'string') return ''
  return v.length > SHOWN_NAME ? `${v.slice(0, SHOWN_NAME)}…` : v
}

/** A bad value, quoted and cut short for a problem message. */
function shown(v: unknown): string {
  if (v === undefined) return '(absent)'
  const text = typeof v === 'string' ? JSON.stringify(v) : (JSON.stringify(v) ?? String(v))
  return text.length > SHOWN_NAME ? `${text.slice(0, SHOWN_NAME)}…` : text
}

/**
 * The deepest nesting of `[`/`{` in JSON bytes, or more: while there are at most MAX_DEPTH of them, their count
 * (a real advisory has one `{`, found by a native search); beyond that, the exact depth (jsonDepth).
 */
function depthBound(data: Uint8Array): number {
  let count = 0
  for (const bracket of [0x7b, 0x5b]) {
    for (let at = data.indexOf(bracket); at !== -1; at = data.indexOf(bracket, at + 1)) {
      if (++count > MAX_DEPTH) return jsonDepth(data)
    }
  }
  return count
}

/** Deepest nesting of `[`/`{` in JSON bytes (strings skipped), counted without parsing. */
function jsonDepth(data: Uint8Array): number {
  let depth = 0
  let max = 0
  let inString = false
  for (let i = 0; i < data.length; i++) {
    const c = data[i]
    if (inString) {
      if (c === 0x5c) i++
      else if (c === 0x22) inString = false
    } else if (c === 0x22) inString = true
    else if (c === 0x5b || c === 0x7b) max = Math.max(max, ++depth)
    else if (c === 0x5d || c === 0x7d) depth--
  }
  return max
}
