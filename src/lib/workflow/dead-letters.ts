import {belongsToSite, type DeadLetterAdvisory} from '../dlq/advisory.js'
import type {StoredMessage} from '../nats/reader.js'

/** The advisory format is read in one place, src/lib/dlq/advisory.ts. */
export {parseAdvisory, type DeadLetterAdvisory as Advisory} from '../dlq/advisory.js'

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

/**
 * Builds the dead letter when the advisory belongs to this site: an advisory whose `domain` differs from
 * the site's JetStream domain is never attributed to it (docs/operations.md, layouts).
 */
export function toDeadLetter(
  advisory: DeadLetterAdvisory,
  stored: StoredMessage,
  messageId: string,
  siteDomain: string | undefined,
  multiSite: boolean,
): WorkflowDeadLetter | null {
  // An unknown site domain (a site addressed by URL alone) keeps every advisory.
  if (siteDomain && !belongsToSite(advisory, siteDomain)) return null
  const ref = `${advisory.stream}:${advisory.stream_seq}`
  return {
    ref: multiSite ? `${stored.site}/${ref}` : ref,
    site: stored.site,
    stream: advisory.stream,
    seq: advisory.stream_seq,
    consumer: advisory.consumer,
    reason: advisory.reason,
    deliveries: advisory.deliveries,
    dead_lettered_at: stored.time,
    id: messageId,
    advisory: {stream: stored.stream, seq: stored.seq},
  }
}
