import type {StoredMessage} from './cursor.js'

/**
 * A JetStream advisory captured by DV_DLQ (DESIGN.md section 6): a pointer to the original message by
 * (stream, stream_seq) on the site that published it.
 */
export interface Advisory {
  type: string
  stream: string
  consumer: string
  stream_seq: number
  deliveries?: number
  reason?: string
  domain?: string
}

/** A dead letter that points at a message of the workflow. */
export interface WorkflowDeadLetter {
  ref: string
  site: string
  stream: string
  seq: number
  consumer: string
  reason: 'max_deliveries' | 'terminated'
  deliveries: number | null
  dead_lettered_at: string
  /** The envelope id of the dead message. */
  id: string
  /** Where the advisory itself is stored. */
  advisory: {stream: string; seq: number}
}

/** Decodes an advisory; anything that is not one (or points at nothing) is null. */
export function parseAdvisory(data: Uint8Array): Advisory | null {
  let value: unknown
  try {
    value = JSON.parse(Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('utf8'))
  } catch {
    return null
  }
  const a = value as Partial<Advisory>
  if (!a || typeof a !== 'object' || typeof a.stream !== 'string' || typeof a.stream_seq !== 'number') return null
  if (typeof a.type !== 'string' || !/max_deliver|terminated/.test(a.type)) return null
  return {
    type: a.type,
    stream: a.stream,
    consumer: typeof a.consumer === 'string' ? a.consumer : '',
    stream_seq: a.stream_seq,
    ...(typeof a.deliveries === 'number' ? {deliveries: a.deliveries} : {}),
    ...(typeof a.reason === 'string' ? {reason: a.reason} : {}),
    ...(typeof a.domain === 'string' ? {domain: a.domain} : {}),
  }
}

/**
 * Builds the dead letter when the advisory belongs to this site: an advisory whose `domain` differs from
 * the site's JetStream domain is never attributed to it (DESIGN.md section 5).
 */
export function toDeadLetter(
  advisory: Advisory,
  stored: StoredMessage,
  messageId: string,
  siteDomain: string | undefined,
  multiSite: boolean,
): WorkflowDeadLetter | null {
  if (advisory.domain && siteDomain && advisory.domain !== siteDomain) return null
  const ref = `${advisory.stream}:${advisory.stream_seq}`
  return {
    ref: multiSite ? `${stored.site}/${ref}` : ref,
    site: stored.site,
    stream: advisory.stream,
    seq: advisory.stream_seq,
    consumer: advisory.consumer,
    reason: /terminated/.test(advisory.type) ? 'terminated' : 'max_deliveries',
    deliveries: advisory.deliveries ?? null,
    dead_lettered_at: stored.time,
    id: messageId,
    advisory: {stream: stored.stream, seq: stored.seq},
  }
}
