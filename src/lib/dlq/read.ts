import {notFound} from '../errors.js'
import {STREAMS} from '../layout/names.js'
import type {SiteConnection} from '../nats/connection.js'
import {StreamCursor, StreamMissing} from '../workflow/cursor.js'
import {belongsToSite, type DeadLetterAdvisory, parseAdvisory} from './advisory.js'
import {failureOfTermReason, failuresFor, readFailures} from './failures.js'
import {emptyLedgerState, Ledger, type LedgerState} from './ledger.js'
import type {DeadLetter, DeadLetterStatus} from './model.js'
import {type OriginalMessage, OriginalReader, parseEnvelope, summarizeEnvelope} from './original.js'
import {formatRef, ledgerKey} from './ref.js'

/** Originals fetched concurrently: enough to hide round trips, bounded so memory stays flat. */
const FETCH_WINDOW = 128

export interface DeadLetterSelection {
  /** Advisories stored at or after this time. */
  since?: Date
  stream?: string
  consumer?: string
  /** Envelope type; `*` matches any run of characters (`maskin.*`). */
  type?: string
  tenant?: string
  /** Default `pending`. */
  status?: DeadLetterStatus | 'all'
  /** Only these refs (`<stream>:<seq>`), when given. */
  refs?: Set<string>
}

export interface ReadOptions extends DeadLetterSelection {
  /** Refs are site-qualified (several sites are read). */
  qualified: boolean
  /** The ledger already loaded by the caller (replay reuses it), else it is read here. */
  ledger?: LedgerState
}

export interface AdvisoryRecord {
  advisory: DeadLetterAdvisory
  stream: string
  seq: number
  time: string
}

/** The site's JetStream domain, to tell its own advisories from another site's (DESIGN.md section 5). */
export async function siteDomain(conn: SiteConnection): Promise<string | null> {
  const info = await (await conn.jsm()).getAccountInfo()
  return (info as {domain?: string}).domain ?? conn.site.js_domain ?? null
}

/**
 * Reads the advisories of DV_DLQ (from `since`), one per dead message: when a message was dead-lettered more
 * than once (two consumers, or again after a failed replay of the same sequence) the latest advisory wins.
 */
export async function readAdvisories(
  conn: SiteConnection,
  options: Pick<DeadLetterSelection, 'since' | 'stream' | 'consumer' | 'refs'>,
): Promise<Map<string, AdvisoryRecord>> {
  const domain = await siteDomain(conn)
  let cursor: StreamCursor
  try {
    cursor = await StreamCursor.open(conn, {
      stream: STREAMS.dlq,
      window: options.since ? {from: options.since} : {},
      follow: false,
    })
  } catch (error) {
    if (error instanceof StreamMissing) {
      throw notFound(
        `Site ${conn.site.name} has no ${STREAMS.dlq} stream, so no dead letters are captured there.`,
        'dlq-stream-missing',
        'Apply the standard layout: dvctl layout apply.',
      )
    }
    throw error
  }
  const byRef = new Map<string, AdvisoryRecord>()
  try {
    for (let m = await cursor.nextHistory(); m; m = await cursor.nextHistory()) {
      const advisory = parseAdvisory(m.data)
      if (!advisory || !belongsToSite(advisory, domain)) continue
      if (options.stream && advisory.stream !== options.stream) continue
      if (options.consumer && advisory.consumer !== options.consumer) continue
      const ref = `${advisory.stream}:${advisory.stream_seq}`
      if (options.refs && !options.refs.has(ref)) continue
      byRef.set(ref, {advisory, stream: m.stream, seq: m.seq, time: m.time})
    }
  } finally {
    await cursor.close()
  }
  return byRef
}

/**
 * Every dead letter of one site matching the selection, with its original's envelope attributes, its
 * failure (joined from task `failed` events) and its ledger status (DESIGN.md section 6).
 */
export async function readDeadLetters(conn: SiteConnection, options: ReadOptions): Promise<DeadLetter[]> {
  const site = conn.site.name
  const [advisories, ledger] = await Promise.all([
    readAdvisories(conn, options),
    options.ledger ?? Ledger.open(conn, {create: false}).then((l) => (l ? l.load() : emptyLedgerState())),
  ])
  const reader = new OriginalReader(conn)
  const typeMatch = options.type ? globMatcher(options.type) : undefined
  const status = options.status ?? 'pending'

  const byStream = new Map<string, AdvisoryRecord[]>()
  for (const record of advisories.values()) {
    const list = byStream.get(record.advisory.stream)
    if (list) list.push(record)
    else byStream.set(record.advisory.stream, [record])
  }
  const letters: DeadLetter[] = []
  for (const [stream, records] of byStream) {
    const bySeq = new Map(records.map((r) => [r.advisory.stream_seq, r]))
    await reader.each(stream, [...bySeq.keys()], FETCH_WINDOW, (seq, original) => {
      const letter = toDeadLetter(bySeq.get(seq)!, original)
      if (letter) letters.push(letter)
    })
  }

  function toDeadLetter(record: AdvisoryRecord, original: OriginalMessage | null): DeadLetter | undefined {
    const a = record.advisory
    const summary = summarizeEnvelope(original ? parseEnvelope(original.data) : null)
    if (typeMatch && !(summary.type && typeMatch(summary.type))) return undefined
    if (options.tenant && summary.tenant_id !== options.tenant) return undefined
    const key = ledgerKey({stream: a.stream, seq: a.stream_seq})
    const last = ledger.last.get(key) ?? null
    const letter: DeadLetter = {
      ref: formatRef({site, stream: a.stream, seq: a.stream_seq}, options.qualified),
      site,
      stream: a.stream,
      seq: a.stream_seq,
      consumer: a.consumer,
      reason: a.reason,
      deliveries: a.deliveries,
      dead_lettered_at: a.timestamp ?? record.time,
      subject: original?.subject ?? null,
      type: summary.type,
      id: summary.id,
      correlation_id: summary.correlation_id,
      tenant_id: summary.tenant_id,
      status: statusOf(original !== null, last?.action),
      failure: a.term_reason ? failureOfTermReason(a.term_reason) : null,
      original_time: original?.time ?? null,
      term_reason: a.term_reason,
      last_action: last,
      replay_in_progress: ledger.inFlight.has(key),
      advisory: {stream: record.stream, seq: record.seq},
    }
    return status === 'all' || letter.status === status ? letter : undefined
  }
  await joinFailures(conn, letters)
  return letters.sort((x, y) => x.dead_lettered_at.localeCompare(y.dead_lettered_at) || x.seq - y.seq)
}

/**
 * Fills `failure` from the site's task `failed` events for the dead letters without a term reason: the
 * advisory's term reason (2.10.4+) is the worker's own word on why it gave up, so it wins; joining the
 * failure events is the fallback for servers that cannot carry one (2.9) and for workers that gave none.
 */
export async function joinFailures(conn: SiteConnection, all: DeadLetter[]): Promise<void> {
  const letters = all.filter((l) => l.term_reason === null)
  const ids = new Set<string>()
  const correlations = new Set<string>()
  let from: number | undefined
  for (const l of letters) {
    if (l.id) ids.add(l.id)
    if (l.correlation_id) correlations.add(l.correlation_id)
    if (l.original_time) from = Math.min(from ?? Infinity, Date.parse(l.original_time))
  }
  if (from === undefined) return
  // A second of slack for clock skew between the worker and the server that stored the command.
  const index = await readFailures(conn, {ids, correlations, from: new Date(from - 1000)})
  for (const l of letters) {
    const events = failuresFor(index, l)
    if (events.length) l.failure = events[events.length - 1].failure
  }
}

/** Ledger action first; a gone original makes a not-yet-handled dead letter `missing` (issue item 6). */
export function statusOf(originalExists: boolean, action: string | undefined): DeadLetterStatus {
  if (action === 'replayed') return 'replayed'
  if (action === 'discarded') return 'discarded'
  return originalExists ? 'pending' : 'missing'
}

export function globMatcher(pattern: string): (value: string) => boolean {
  if (!pattern.includes('*')) return (v) => v === pattern
  const re = new RegExp(`^${pattern.split('*').map(escapeRegExp).join('.*')}$`)
  return (v) => re.test(v)
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}
