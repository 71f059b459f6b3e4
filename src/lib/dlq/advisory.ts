/**
 * The server's dead-letter advisories captured by DV_DLQ (DESIGN.md section 6): `max_deliver`
 * (`$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.<stream>.<consumer>`) and `terminated`
 * (`...MSG_TERMINATED...`). Fields beyond the ones read here (and their absence on older servers:
 * `reason` is 2.10.4+, `domain` only with a JetStream domain) are tolerated.
 */
export type DeadLetterReason = 'max_deliveries' | 'terminated'

export interface DeadLetterAdvisory {
  reason: DeadLetterReason
  /** The advisory's own type, e.g. `io.nats.jetstream.advisory.v1.max_deliver`. */
  type: string
  stream: string
  consumer: string
  stream_seq: number
  consumer_seq: number | null
  deliveries: number | null
  /** When the server gave up (the advisory's timestamp), RFC 3339. */
  timestamp: string | null
  /** The term reason a worker gave (`msg.term(reason)`, 2.10.4+). */
  term_reason: string | null
  domain: string | null
}

const decoder = new TextDecoder()

/** Decodes one DV_DLQ message; anything that is not a dead-letter advisory is null. */
export function parseAdvisory(data: Uint8Array): DeadLetterAdvisory | null {
  let value: unknown
  try {
    value = JSON.parse(decoder.decode(data))
  } catch {
    return null
  }
  if (!value || typeof value !== 'object') return null
  const a = value as Record<string, unknown>
  const type = typeof a.type === 'string' ? a.type : ''
  const reason: DeadLetterReason | undefined = /max_deliver/.test(type)
    ? 'max_deliveries'
    : /terminated/.test(type)
      ? 'terminated'
      : undefined
  if (!reason || typeof a.stream !== 'string' || !isSeq(a.stream_seq)) return null
  return {
    reason,
    type,
    stream: a.stream,
    consumer: typeof a.consumer === 'string' ? a.consumer : '',
    stream_seq: a.stream_seq,
    consumer_seq: isSeq(a.consumer_seq) ? a.consumer_seq : null,
    deliveries: isSeq(a.deliveries) ? a.deliveries : null,
    timestamp: typeof a.timestamp === 'string' ? a.timestamp : null,
    term_reason: typeof a.reason === 'string' && a.reason ? a.reason : null,
    domain: typeof a.domain === 'string' && a.domain ? a.domain : null,
  }
}

/**
 * An advisory belongs to a site only when it comes from that site's JetStream domain (DESIGN.md section 5):
 * a leaf-node link could otherwise carry another site's advisories into this site's DV_DLQ.
 */
export function belongsToSite(advisory: DeadLetterAdvisory, siteDomain: string | null): boolean {
  if (advisory.domain === null) return true
  return advisory.domain === siteDomain
}

function isSeq(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0
}
