import {typeMatcher} from '../contract/match.js'
import {notFound} from '../errors.js'
import {dataverketLayout} from '../layout/dataverket.js'
import {DLQ_ARCHIVE_STREAM, STREAMS} from '../layout/names.js'
import {layoutForSite} from '../layout/resolve.js'
import type {Layout} from '../layout/schema.js'
import type {SiteConnection} from '../nats/connection.js'
import {describeNatsError, isNotFound} from '../nats/errors.js'
import {AckedPublisher} from '../nats/publisher.js'
import {drainStream, StreamMissing} from '../nats/reader.js'
import {compareText} from '../order.js'
import {type ArchiveCopy, writeArchiveCopy} from './archive.js'
import {mapPool} from './pool.js'
import {belongsToSite, checkAdvisory, type DeadLetterAdvisory, type InvalidAdvisory} from './advisory.js'
import {failureOfTermReason, failuresFor, readFailures} from './failures.js'
import {emptyLedgerState, Ledger, type LedgerState} from './ledger.js'
import type {DeadLetter, DeadLetterStatus, ReplayOutcome} from './model.js'
import {
  type ArchivedOriginal,
  type OriginalMessage,
  OriginalReader,
  parseEnvelope,
  summarizeEnvelope,
} from './original.js'
import {commandStreams, type MissingReason, missingProblem, Provenance} from './provenance.js'
import {isHandled, replayRecordOf, type ReplayRecord, resolveOutcomes} from './outcome.js'
import {formatRef, ledgerKey} from './ref.js'

/** Originals fetched concurrently: enough to hide round trips, bounded so memory stays flat. */
export const FETCH_WINDOW = 128

export interface DeadLetterSelection {
  /** Advisories stored at or after this time. */
  since?: Date
  stream?: string
  consumer?: string
  /** Envelope type pattern (contract/match.ts `typeMatcher`: `*` matches any run of characters). */
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
  /** The ledger as loaded (or being loaded) by the caller (replay reuses it), else it is read here. */
  ledger?: LedgerState | Promise<LedgerState>
  /** The layout whose command streams and consumer filters are trusted (default: the standard layout). */
  layout?: Layout
  /** Join the worker's failure events (default true; a replay does not show them and skips the read). */
  failures?: boolean
  /**
   * Parse each original's envelope for its id, type, correlation and tenant (default true). A replay shows
   * none of them and parses only what a --type or --tenant filter needs.
   */
  summaries?: boolean
  /** Called with each original that is provably the message that failed (a replay keeps them to send). */
  onOriginal?: (key: string, original: OriginalMessage) => void
  /**
   * `dlq list`: copy the originals read from their stream into the dead-letter archive when it has no
   * copy of them yet (archive.ts); what was done is added to this report.
   */
  archive?: ArchiveReport
}

/** What a listing's archiving did on one site. */
export interface ArchiveReport {
  archived: number
  warnings: string[]
}

export interface AdvisoryRecord {
  advisory: DeadLetterAdvisory
  stream: string
  seq: number
  time: string
}

/** A DV_DLQ message that failed the advisory checks, with where it is stored. */
export interface InvalidRecord {
  invalid: InvalidAdvisory
  stream: string
  seq: number
  time: string
}

/**
 * Reads the valid advisories of DV_DLQ (from `since`), one per dead message: when a message was
 * dead-lettered more than once (two consumers, or again after a failed replay of the same sequence) the
 * latest advisory wins.
 */
export async function readAdvisories(
  conn: SiteConnection,
  options: Pick<DeadLetterSelection, 'since' | 'stream' | 'consumer' | 'refs'>,
): Promise<Map<string, AdvisoryRecord>> {
  return (await scanAdvisories(conn, options)).valid
}

export interface AdvisoryScanOptions extends Pick<DeadLetterSelection, 'since' | 'stream' | 'consumer' | 'refs'> {
  keepInvalid?: boolean
  /** Only what DV_DLQ stored after this sequence (an incremental read: health/snapshot.ts); wins over `since`. */
  afterSeq?: number
}

/** Above this many, advisoriesAt reads DV_DLQ in one pass from the first of them instead of one get each. */
const ADVISORY_GETS = 256

/**
 * The valid advisories of this site that DV_DLQ stores at `seqs` (a tracker checking again dead letters it
 * read before: pending.ts), by DV_DLQ sequence; one that is gone or invalid is left out.
 */
export async function advisoriesAt(conn: SiteConnection, seqs: number[]): Promise<Map<number, AdvisoryRecord>> {
  const found = new Map<number, AdvisoryRecord>()
  if (seqs.length > ADVISORY_GETS) {
    const wanted = new Set(seqs)
    const first = seqs.reduce((a, b) => Math.min(a, b))
    const scan = await scanAdvisories(conn, {afterSeq: first - 1})
    for (const record of scan.valid.values()) if (wanted.has(record.seq)) found.set(record.seq, record)
    return found
  }
  const [jsm, {jsDomain}] = await Promise.all([conn.jsm(), conn.identity()])
  await mapPool(seqs, FETCH_WINDOW, async (seq) => {
    let stored
    try {
      stored = await jsm.streams.getMessage(STREAMS.dlq, {seq})
    } catch (error) {
      if (isNotFound(error)) return
      throw error
    }
    if (!stored) return
    const checked = checkAdvisory(stored.data, stored.subject)
    if (!checked.ok || !belongsToSite(checked.advisory, jsDomain)) return
    found.set(seq, {advisory: checked.advisory, stream: STREAMS.dlq, seq, time: stored.time.toISOString()})
  })
  return found
}

/**
 * Reads DV_DLQ (from `since`, or after `afterSeq`): the valid advisories by ref (latest wins), and, with
 * `keepInvalid`, every message that fails the advisory checks (never with `refs`: an invalid advisory has
 * no ref to select it by). `lastSeq`: the last DV_DLQ sequence read (`afterSeq` when nothing was new), where
 * the next incremental read starts.
 */
export async function scanAdvisories(
  conn: SiteConnection,
  options: AdvisoryScanOptions,
): Promise<{valid: Map<string, AdvisoryRecord>; invalid: InvalidRecord[]; lastSeq: number}> {
  // The site's JetStream domain tells its own advisories from another site's (docs/operations.md, layouts).
  const domain = (await conn.identity()).jsDomain
  const byRef = new Map<string, AdvisoryRecord>()
  const invalid: InvalidRecord[] = []
  const wanted = (a: {stream: string; consumer: string}) =>
    (!options.stream || a.stream === options.stream) && (!options.consumer || a.consumer === options.consumer)
  let lastSeq = options.afterSeq ?? 0
  const start =
    options.afterSeq !== undefined ? {seq: options.afterSeq + 1} : options.since ? {time: options.since} : undefined
  try {
    await drainStream(conn, {stream: STREAMS.dlq}, {start}, (m) => {
      lastSeq = Math.max(lastSeq, m.seq)
      const checked = checkAdvisory(m.data, m.subject)
      if (!checked.ok) {
        const bad = checked.invalid
        if (!options.keepInvalid || options.refs || !belongsToSite(bad, domain) || !wanted(bad)) return
        invalid.push({invalid: bad, stream: m.stream, seq: m.seq, time: m.time})
        return
      }
      const advisory = checked.advisory
      if (!belongsToSite(advisory, domain) || !wanted(advisory)) return
      const ref = `${advisory.stream}:${advisory.stream_seq}`
      if (options.refs && !options.refs.has(ref)) return
      byRef.set(ref, {advisory, stream: m.stream, seq: m.seq, time: m.time})
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
  return {valid: byRef, invalid, lastSeq}
}

/**
 * Every dead letter of one site matching the selection, with its original's envelope attributes, its
 * failure (joined from task `failed` events) and its ledger status (docs/operations.md). An original is
 * only joined when it is provably the message that failed (see provenance.ts); otherwise the dead letter
 * is `missing` with the reason. DV_DLQ messages that are not valid advisories are listed as `invalid`.
 */
export async function readDeadLetters(conn: SiteConnection, options: ReadOptions): Promise<DeadLetter[]> {
  const site = conn.site.name
  const status = options.status ?? 'pending'
  // Invalid advisories have no envelope, so a type or tenant filter never selects them.
  const keepInvalid = !options.refs && !options.type && !options.tenant && (status === 'all' || status === 'invalid')
  const [advisories, ledger] = await Promise.all([
    scanAdvisories(conn, {...options, keepInvalid}),
    options.ledger ?? Ledger.open(conn, {create: false}).then((l) => (l ? l.load() : emptyLedgerState())),
  ])
  const typeMatch = options.type ? typeMatcher(options.type) : undefined

  const letters: DeadLetter[] = []
  // Which originals the archive has a copy of is asked before they are read, so that a listing keeps only
  // those it will copy there (none, once every dead letter was listed or captured), not every one it reads.
  const archived = options.archive ? await archivedSeqs(conn, advisories.valid.values(), options.layout) : undefined
  /** Originals read from their stream that the archive has no copy of, by command stream (`options.archive`). */
  const readFromStream = new Map<string, Array<{record: AdvisoryRecord; original: OriginalMessage}>>()
  await checkOriginals(conn, advisories.valid.values(), options.layout, (record, original, missing, provenance) => {
    // Every command stream read is listed, so that a site without the archive is said even when nothing
    // is left to archive.
    const stream = record.advisory.stream
    if (provenance.isCommandStream(stream) && !readFromStream.has(stream)) readFromStream.set(stream, [])
    const have = archived?.get(stream)
    if (have && original && !missing && original.source !== 'archive' && !have.has(original.seq))
      readFromStream.get(stream)?.push({record, original})
    const letter = toDeadLetter(record, original, missing, provenance)
    if (letter) letters.push(letter)
  })
  for (const record of advisories.invalid) letters.push(invalidLetter(record))

  /** What a dead letter takes from its advisory, valid or not; `storedAt`: when DV_DLQ stored it. */
  function fromAdvisory(a: DeadLetterAdvisory | InvalidAdvisory, storedAt: string) {
    return {
      site,
      stream: a.stream,
      seq: a.stream_seq,
      consumer: a.consumer,
      reason: a.reason,
      deliveries: a.deliveries,
      never_delivered: a.deliveries === 0,
      dead_lettered_at: a.timestamp ?? storedAt,
    }
  }

  function invalidLetter(record: InvalidRecord): DeadLetter {
    const a = record.invalid
    return {
      // The advisory's own place in DV_DLQ: it names no dead letter that could be selected or replayed.
      ref: formatInvalidRef(site, record, options.qualified),
      ...fromAdvisory(a, record.time),
      subject: null,
      type: null,
      id: null,
      correlation_id: null,
      tenant_id: null,
      status: 'invalid',
      failure: null,
      original_time: null,
      original_source: null,
      term_reason: null,
      last_action: null,
      replay_in_progress: false,
      last_replay: null,
      advisory: {stream: record.stream, seq: record.seq},
      missing_reason: null,
      problems: a.problems,
    }
  }

  function toDeadLetter(
    record: AdvisoryRecord,
    found: OriginalMessage | null,
    missing: MissingReason | null,
    provenance: Provenance,
  ): DeadLetter | undefined {
    const a = record.advisory
    // A message that is not provably the one that failed is not shown as if it were (its id, tenant, ...).
    const original = missing ? null : found
    const key = ledgerKey({stream: a.stream, seq: a.stream_seq})
    if (original) options.onOriginal?.(key, original)
    const parse = original && (options.summaries !== false || typeMatch || options.tenant)
    const summary = summarizeEnvelope(parse ? parseEnvelope(original.data) : null)
    if (typeMatch && !typeMatch(summary.type)) return undefined
    if (options.tenant && summary.tenant_id !== options.tenant) return undefined
    // A ledger record of an earlier incarnation of the stream (same key, another message) does not apply;
    // an archived original says itself which incarnation held it.
    const current = (stored: number | undefined) =>
      !original ||
      (original.source === 'archive'
        ? storedSince(stored, (original as ArchivedOriginal).stream_created)
        : provenance.sameIncarnation(a.stream, stored))
    const last = current(ledger.stored.get(key)) ? (ledger.last.get(key) ?? null) : null
    const inFlight = ledger.inFlight.get(key)
    const letter: DeadLetter = {
      ref: formatRef({site, stream: a.stream, seq: a.stream_seq}, options.qualified),
      ...fromAdvisory(a, record.time),
      subject: original?.subject ?? null,
      type: summary.type,
      id: summary.id,
      correlation_id: summary.correlation_id,
      tenant_id: summary.tenant_id,
      status: statusOf(original !== null, last?.action),
      failure: a.term_reason ? failureOfTermReason(a.term_reason) : null,
      original_time: original?.time ?? null,
      original_source: original ? (original.source ?? 'stream') : null,
      term_reason: a.term_reason,
      last_action: last,
      replay_in_progress: inFlight !== undefined && current(inFlight.stored),
      last_replay: null,
      advisory: {stream: record.stream, seq: record.seq},
      missing_reason: missing?.code ?? null,
      problems: missing ? [missingProblem(missing)] : [],
    }
    // A replayed letter may turn out `replay_failed` once its replay's outcome is known (below).
    const candidate = letter.status === 'replayed' && status === 'replay_failed'
    return status === 'all' || letter.status === status || candidate ? letter : undefined
  }
  if (options.failures !== false) await joinFailures(conn, letters)
  await joinLastReplays(conn, letters)
  if (options.archive) {
    // After the replays' outcomes: a letter whose last replay failed is archived as pending.
    const outcomes = new Map(letters.flatMap((l) => (l.last_replay ? [[ledgerKey(l), l.last_replay.outcome]] : [])))
    const stored = await archiveRead(conn, readFromStream, archived!, ledger, outcomes, options.archive)
    // A listing still lists when its copies could not be written; it says so.
    options.archive.archived += stored
  }
  const kept = status === 'all' ? letters : letters.filter((l) => l.status === status)
  return kept.sort((x, y) => compareText(x.dead_lettered_at, y.dead_lettered_at) || x.seq - y.seq)
}

/**
 * Fetches the original of each advisory (only from the layout's command streams) and checks that it is
 * provably the message that failed (provenance.ts): `fn` gets the original, or null, and why it is missing
 * (null when it is the one). `dlq list` and the health snapshot's pending count both decide "pending" here.
 */
export async function checkOriginals(
  conn: SiteConnection,
  records: Iterable<AdvisoryRecord>,
  layout: Layout | undefined,
  fn: (
    record: AdvisoryRecord,
    original: OriginalMessage | null,
    missing: MissingReason | null,
    provenance: Provenance,
  ) => void,
): Promise<Provenance> {
  const reader = new OriginalReader(conn)
  const provenance = new Provenance(conn, reader, layoutForSite(layout ?? dataverketLayout(), conn.site.name))
  const byStream = new Map<string, AdvisoryRecord[]>()
  for (const record of records) {
    const list = byStream.get(record.advisory.stream)
    if (list) list.push(record)
    else byStream.set(record.advisory.stream, [record])
  }
  for (const [stream, list] of byStream) {
    // Only the layout's command streams are ever read: an advisory pointing elsewhere is not followed.
    if (!provenance.isCommandStream(stream)) {
      for (const record of list) fn(record, null, provenance.check(record.advisory, record.time, null), provenance)
      continue
    }
    await provenance.prepare(
      stream,
      list.map((r) => r.advisory.consumer),
    )
    const bySeq = new Map(list.map((r) => [r.advisory.stream_seq, r]))
    // What the stream no longer has (or has another message at) is looked for in the dead-letter archive.
    const notInStream = new Map<number, {record: AdvisoryRecord; missing: MissingReason}>()
    await reader.each(stream, [...bySeq.keys()], FETCH_WINDOW, (seq, original) => {
      const record = bySeq.get(seq)!
      const missing = provenance.check(record.advisory, record.time, original)
      if (missing) notInStream.set(seq, {record, missing})
      else fn(record, original, null, provenance)
    })
    await reader.eachArchived(stream, [...notInStream.keys()], FETCH_WINDOW, (seq, archived) => {
      const {record, missing} = notInStream.get(seq)!
      const problem = archived
        ? provenance.checkArchived(record.advisory, record.time, {stream: record.stream, seq: record.seq}, archived)
        : missing
      if (archived && !problem) fn(record, archived, null, provenance)
      else fn(record, null, missing, provenance)
    })
  }
  return provenance
}

/** A ledger record stored (ms) since the stream incarnation created at `created` (true when unknown). */
function storedSince(stored: number | undefined, created: string | null): boolean {
  const at = Date.parse(created ?? '')
  return stored === undefined || !Number.isFinite(at) || stored >= at
}

/**
 * Fills `failure` from the site's task `failed` events for the dead letters without a term reason: the
 * advisory's term reason (2.10.4+) is the worker's own word on why it gave up, so it wins; joining the
 * failure events is the fallback for servers that cannot carry one (2.9) and for workers that gave none.
 */
export async function joinFailures(conn: SiteConnection, all: DeadLetter[]): Promise<void> {
  // A message no worker received has no worker failure to join.
  const letters = all.filter((l) => l.term_reason === null && !l.never_delivered)
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

/** Archive writes in flight at once during a listing. */
const ARCHIVE_WINDOW = 256

/**
 * Which sequences of each command stream the advisories name have a copy in the archive (archivedSeqs: one
 * stream-info request per stream); null for each when the site has no archive. Streams outside the layout's
 * command streams are never asked about (an advisory may name any).
 */
async function archivedSeqs(
  conn: SiteConnection,
  records: Iterable<AdvisoryRecord>,
  layout: Layout | undefined,
): Promise<Map<string, Set<number> | null>> {
  const commands = commandStreams(layoutForSite(layout ?? dataverketLayout(), conn.site.name))
  const streams = new Set<string>()
  for (const r of records) if (commands.has(r.advisory.stream)) streams.add(r.advisory.stream)
  const reader = new OriginalReader(conn)
  return new Map(await Promise.all([...streams].map(async (s) => [s, await reader.archivedSeqs(s)] as const)))
}

/**
 * `dlq list` keeps what it read: each original read from its stream that the archive had no copy of when the
 * listing began (`archived`) is copied there (archive.ts), so a site without `dlq capture` still keeps every
 * dead letter anyone listed. Only those are written, pipelined. Returns how many were written; a site
 * without the archive is a warning.
 */
async function archiveRead(
  conn: SiteConnection,
  readFromStream: Map<string, Array<{record: AdvisoryRecord; original: OriginalMessage}>>,
  archived: Map<string, Set<number> | null>,
  ledger: LedgerState,
  outcomes: Map<string, ReplayOutcome['outcome']>,
  report: ArchiveReport,
): Promise<number> {
  let written = 0
  const reader = new OriginalReader(conn)
  for (const [stream, missing] of readFromStream) {
    // Said even when nothing is to be archived: a site without the archive is said, every time.
    if (!archived.get(stream)) {
      report.warnings.push(
        `Site ${conn.site.name} has no ${DLQ_ARCHIVE_STREAM} stream: dead letters' originals are not archived and are lost once ${stream} drops them (dvctl layout apply creates it).`,
      )
      return written
    }
    if (missing.length === 0) continue
    const info = await reader.info(stream)
    if (!info) continue
    const publisher = await AckedPublisher.open(conn.nc, conn.timeoutMs)
    try {
      await mapPool(missing, ARCHIVE_WINDOW, async ({record, original}) => {
        const key = ledgerKey({stream, seq: original.seq})
        const copy: ArchiveCopy = {
          original,
          streamCreated: info.created,
          advisory: {...record.advisory, stream: record.stream, seq: record.seq},
          state: isHandled(ledger.last.get(key)?.action, outcomes.get(key)) ? 'handled' : 'pending',
          by: 'list',
        }
        await writeArchiveCopy(conn, copy, publisher)
        written++
      })
    } catch (error) {
      report.warnings.push(
        `Site ${conn.site.name}: ${missing.length - written} original(s) could not be archived: ${describeNatsError(error).error}`,
      )
    } finally {
      publisher.close()
    }
  }
  return written
}

/**
 * The outcome of each replayed letter's last replay (dlq/outcome.ts): only letters whose last action is a
 * confirmed replay are resolved, in two bounded reads for all of them; one that failed or was dead-lettered
 * again is `replay_failed`.
 */
async function joinLastReplays(conn: SiteConnection, letters: DeadLetter[]): Promise<void> {
  const records = new Map<DeadLetter, ReplayRecord>()
  for (const letter of letters) {
    if (letter.status !== 'replayed' || !letter.last_action) continue
    const record = replayRecordOf(ledgerKey(letter), letter.last_action, letter.id)
    if (record) records.set(letter, record)
  }
  if (records.size === 0) return
  const outcomes = await resolveOutcomes(conn, [...records.values()])
  for (const [letter, r] of records) {
    const o = outcomes.get(r.replay_id)
    if (!o) continue
    letter.last_replay = {replay_id: r.replay_id, seq: r.seq, at: r.at, actor: r.actor, ...o}
    if (o.outcome === 'failed' || o.outcome === 'dead_lettered') letter.status = 'replay_failed'
  }
}

/** Ledger action first; a gone original makes a not-yet-handled dead letter `missing` (issue item 6). */
export function statusOf(originalExists: boolean, action: string | undefined): DeadLetterStatus {
  if (action === 'replayed') return 'replayed'
  if (action === 'discarded') return 'discarded'
  return originalExists ? 'pending' : 'missing'
}

/** `DV_DLQ@<seq>`: an invalid advisory is referred to by where DV_DLQ stores it (never a replayable ref). */
export function formatInvalidRef(site: string, record: Pick<InvalidRecord, 'stream' | 'seq'>, qualified: boolean) {
  const local = `${record.stream}@${record.seq}`
  return qualified ? `${site}/${local}` : local
}
