import {STREAMS} from '../layout/names.js'
import type {SiteConnection} from '../nats/connection.js'
import {readStream, StreamMissing, type StoredMessage} from '../nats/reader.js'
import type {Failure} from './model.js'
import {parseEnvelope} from './original.js'

/** Task `failed` events: where a worker says why it gave up on a command (docs/operations.md, dead letters). */
export const TASK_FAILED_SUBJECT = 'dv.task.evt.failed'

export interface FailureEvent {
  /** Where the event is stored (not its bytes: a listing keeps one event per dead letter). */
  message: Omit<StoredMessage, 'data' | 'headers'>
  /** The event's envelope, when asked for (`envelopes`); null otherwise. */
  envelope: Record<string, unknown> | null
  failure: Failure
}

/** The commands whose failures are wanted: by envelope id (causation) and by correlation id. */
export interface FailureQuery {
  ids: Set<string>
  correlations: Set<string>
  /** Failure events are stored after the command; reading starts at the earliest original. */
  from: Date
  /** Keep each event's envelope (`dlq show` prints it; a listing needs only the failure). */
  envelopes?: boolean
}

export interface FailureIndex {
  byCausation: Map<string, FailureEvent[]>
  byCorrelation: Map<string, FailureEvent[]>
}

/**
 * Reads the `failed` task events of one site from `from` on and keeps only those that point at one of the
 * wanted commands, so memory is bounded by the dead letters, not by the stream.
 */
export async function readFailures(conn: SiteConnection, query: FailureQuery): Promise<FailureIndex> {
  const index: FailureIndex = {byCausation: new Map(), byCorrelation: new Map()}
  if (query.ids.size === 0 && query.correlations.size === 0) return index
  const failed = readStream(
    conn,
    {stream: STREAMS.task, filterSubject: TASK_FAILED_SUBJECT},
    {start: {time: query.from}},
  )
  try {
    for await (const m of failed) {
      const envelope = parseEnvelope(m.data)
      if (!envelope) continue
      const causation = typeof envelope.causation_id === 'string' ? envelope.causation_id : undefined
      const correlation = typeof envelope.correlation_id === 'string' ? envelope.correlation_id : undefined
      const byCause = causation !== undefined && query.ids.has(causation)
      const byCorr = correlation !== undefined && query.correlations.has(correlation)
      if (!byCause && !byCorr) continue
      const event: FailureEvent = {
        message: {site: m.site, stream: m.stream, seq: m.seq, subject: m.subject, time: m.time},
        envelope: query.envelopes ? envelope : null,
        failure: failureOf(envelope),
      }
      if (byCause) push(index.byCausation, causation!, event)
      if (byCorr) push(index.byCorrelation, correlation!, event)
    }
  } catch (error) {
    if (error instanceof StreamMissing) return index
    throw error
  }
  return index
}

/** The failure events of one dead command: those caused by it, else those of its workflow. */
export function failuresFor(
  index: FailureIndex,
  command: {id: string | null; correlation_id: string | null},
): FailureEvent[] {
  const direct = command.id ? index.byCausation.get(command.id) : undefined
  if (direct?.length) return direct
  return (command.correlation_id ? index.byCorrelation.get(command.correlation_id) : undefined) ?? []
}

/** `data.error {code, message}` of a task `failed` event (docs/contract.md). */
export function failureOf(envelope: Record<string, unknown>): Failure {
  const data = envelope.data as {error?: {code?: unknown; message?: unknown}} | undefined
  const error = data?.error
  return {
    code: typeof error?.code === 'string' ? error.code : 'failed',
    message: typeof error?.message === 'string' ? error.message : '',
  }
}

/**
 * The failure a worker gave as its term reason (`msg.term(reason)`, carried by the advisory from nats-server
 * 2.10.4). The simulated workers, like the contract's `data.error`, write `<code>: <message>` with a
 * kebab-case code; any other text is kept whole as the message of a `terminated` failure.
 */
export function failureOfTermReason(reason: string): Failure {
  const match = /^([a-z0-9][a-z0-9._-]*): (.+)$/s.exec(reason)
  return match ? {code: match[1], message: match[2]} : {code: 'terminated', message: reason}
}

function push<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key)
  if (list) list.push(value)
  else map.set(key, [value])
}
