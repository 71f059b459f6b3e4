import type {Problem} from '../contract/problems.js'
import {subjectMatches} from '../contract/match.js'
import {FORBIDDEN_PUBLISH_PREFIXES, parseSubject} from '../contract/taxonomy.js'
import type {SiteConnection} from '../nats/connection.js'
import {isNotFound} from '../nats/errors.js'
import type {SiteLayout} from '../layout/schema.js'
import type {DeadLetterAdvisory} from './advisory.js'
import type {MissingReasonCode} from './model.js'
import type {ArchivedOriginal, OriginalMessage, OriginalReader} from './original.js'

/**
 * Whether the message now stored at an advisory's `<stream>:<seq>` is provably the one that failed
 * (issue 13, item 1). A sequence number alone is not an identity: a stream deleted and created again
 * (`layout apply --allow-recreate`, or a delete and re-apply) starts again at 1 while DV_DLQ keeps the old
 * advisories, and an advisory can be forged. What is checked, in order:
 * - the stream is one the layout declares for commands (only those are ever read or replayed);
 * - the stream and the message exist;
 * - same stream incarnation: the stream was created, and the message stored, before the advisory was
 *   written;
 * - the message's subject is within the consumer's filter (the live consumer's, unless it was created
 *   after the advisory; else the layout's declared filter for that consumer).
 *
 * Times: the advisory's time is its `timestamp`, capped by when DV_DLQ stored it (both written by the
 * servers; an advisory without a timestamp, which real servers never send, has only the second). On a single
 * server every time compared here comes from one clock, so the comparison is exact. In a cluster the
 * stream's creation (meta leader), the message (stream leader) and the advisory (consumer leader) may come
 * from different clocks: a small allowance is made there, so a command terminated within that allowance of
 * being stored is not wrongly refused; the price is that a stream recreated and refilled within that
 * allowance after an advisory would pass the time checks (the filter check still applies).
 */

/** Allowed clock difference between the servers of a cluster (NTP keeps them well within this). */
export const CLUSTER_CLOCK_SKEW_MS = 1000

export interface MissingReason {
  code: MissingReasonCode
  message: string
}

export function missingProblem(reason: MissingReason): Problem {
  return {path: '$', code: reason.code, message: reason.message}
}

/**
 * The streams a layout declares for commands: every subject it captures is a `cmd` subject (or filter) of
 * the taxonomy. In the standard layout that is DV_CMD alone.
 */
export function commandStreams(layout: SiteLayout): Set<string> {
  const names = new Set<string>()
  for (const [name, spec] of Object.entries(layout.streams)) {
    const subjects = spec.subjects ?? []
    if (spec.mirror || spec.sources?.length) continue
    if (subjects.length && subjects.every((s) => parseSubject(s, {allowWildcards: true}).family === 'cmd')) {
      names.add(name)
    }
  }
  return names
}

/** The filter(s) the layout declares for a consumer of a stream; undefined when it declares no such consumer. */
export function declaredFilters(layout: SiteLayout, stream: string, consumer: string): string[] | undefined {
  const spec = layout.streams[stream]
  const c = spec?.consumers?.[consumer]
  if (!c) return undefined
  if (c.filter_subjects?.length) return c.filter_subjects
  return c.filter_subject ? [c.filter_subject] : (spec.subjects ?? [])
}

interface ConsumerFacts {
  created: number
  filters: string[]
}

/** Checks originals against their advisories for one site; stream and consumer facts are read once each. */
export class Provenance {
  private readonly commands: Set<string>
  private readonly streams = new Map<string, {created: string} | null>()
  private readonly consumers = new Map<string, ConsumerFacts | null>()
  private readonly skewMs: number

  constructor(
    private readonly conn: SiteConnection,
    private readonly reader: OriginalReader,
    private readonly layout: SiteLayout,
  ) {
    this.commands = commandStreams(layout)
    this.skewMs = conn.nc.info?.cluster ? CLUSTER_CLOCK_SKEW_MS : 0
  }

  /**
   * Whether a ledger record stored at `storedMs` can be about the current incarnation of `stream` (it was
   * not stored before the stream was created). True when unknown.
   */
  sameIncarnation(stream: string, storedMs: number | undefined): boolean {
    const created = Date.parse(this.streams.get(stream)?.created ?? '')
    if (storedMs === undefined || !Number.isFinite(created)) return true
    return storedMs + this.skewMs >= created
  }

  isCommandStream(stream: string): boolean {
    return this.commands.has(stream)
  }

  /** Reads what `check` needs about a stream and the given consumers (awaited before `check`). */
  async prepare(stream: string, consumers: Iterable<string>): Promise<void> {
    if (!this.commands.has(stream)) return
    const info = await this.reader.info(stream)
    this.streams.set(stream, info ? {created: info.created} : null)
    if (!info) return
    await Promise.all(
      [...new Set(consumers)].map(async (c) => this.consumers.set(key(stream, c), await this.consumer(stream, c))),
    )
  }

  /**
   * Null when `original` is provably the message the advisory is about, else why not. `storedAt` is when
   * DV_DLQ stored the advisory. `prepare` must have been awaited for the stream and consumer.
   */
  check(advisory: DeadLetterAdvisory, storedAt: string, original: OriginalMessage | null): MissingReason | null {
    const {stream} = advisory
    if (!this.commands.has(stream)) {
      return {
        code: 'not-a-command-stream',
        message: `${stream} is not a command stream of the layout; dead letters are only read from and replayed for ${[...this.commands].join(', ') || 'command streams'}`,
      }
    }
    const info = this.streams.get(stream)
    if (!info) return {code: 'stream-gone', message: `stream ${stream} does not exist (any more)`}
    if (!original) return {code: 'gone', message: 'the original message is gone (deleted or aged out)'}
    const at = advisoryTime(advisory, storedAt) + this.skewMs
    const created = Date.parse(info.created)
    if (Number.isFinite(created) && created > at) {
      return {
        code: 'stream-recreated',
        message: `${stream} was created at ${info.created}, after the advisory (${isoOf(at - this.skewMs)}): the stream was recreated and seq ${advisory.stream_seq} is now another message`,
      }
    }
    return this.checkMessage(advisory, at, original, `the message now at ${stream}:${advisory.stream_seq}`)
  }

  /**
   * Null when an archived copy (archive.ts) is provably the message the advisory is about, else why not.
   * `advisoryAt` is where DV_DLQ stores the advisory. A copy archived for this very advisory was checked
   * against the stream when it was archived; any other copy must come from the incarnation of the stream
   * that held the dead message: one created before the advisory, and, while the stream there now already
   * existed at the advisory, that one. Then the same time and filter checks as for a message in the stream.
   */
  checkArchived(
    advisory: DeadLetterAdvisory,
    storedAt: string,
    advisoryAt: {stream: string; seq: number},
    archived: ArchivedOriginal,
  ): MissingReason | null {
    const {stream} = advisory
    if (!this.commands.has(stream)) return this.check(advisory, storedAt, null)
    const what = `the archived copy of ${stream}:${advisory.stream_seq}`
    if (archived.stream !== stream || archived.seq !== advisory.stream_seq) {
      return {code: 'gone', message: 'the original message is gone (deleted or aged out)'}
    }
    const at = advisoryTime(advisory, storedAt) + this.skewMs
    const sameAdvisory = archived.advisory?.stream === advisoryAt.stream && archived.advisory.seq === advisoryAt.seq
    if (!sameAdvisory) {
      const created = Date.parse(archived.stream_created ?? '')
      const live = Date.parse(this.streams.get(stream)?.created ?? '')
      if (!Number.isFinite(created) || created > at || (Number.isFinite(live) && live <= at && live !== created)) {
        return {
          code: 'stream-recreated',
          message: `the original is gone, and ${what} comes from another incarnation of ${stream} (created ${archived.stream_created ?? 'at an unknown time'}) than the one the advisory (${isoOf(at - this.skewMs)}) is about`,
        }
      }
    }
    return this.checkMessage(advisory, at, archived, what)
  }

  /** The checks of a candidate message itself: stored before the advisory, within the consumer's filter. */
  private checkMessage(
    advisory: DeadLetterAdvisory,
    at: number,
    original: OriginalMessage,
    what: string,
  ): MissingReason | null {
    const {stream, consumer} = advisory
    if (Date.parse(original.time) > at) {
      return {
        code: 'stored-after-advisory',
        message: `${what} was stored at ${original.time}, after the advisory (${isoOf(at - this.skewMs)}): it is not the message that failed`,
      }
    }
    const facts = this.consumers.get(key(stream, consumer))
    const live = facts && facts.created <= at ? facts.filters : undefined
    const filters = live ?? declaredFilters(this.layout, stream, consumer)
    if (!filters) {
      return {
        code: 'unknown-consumer',
        message: `consumer ${consumer} no longer exists on ${stream} (or was created again) and the layout does not declare it, so its filter cannot be checked`,
      }
    }
    if (filters.length && !filters.some((f) => subjectMatches(f, original.subject))) {
      return {
        code: 'outside-consumer-filter',
        message: `${what} (${original.subject}) is outside consumer ${consumer}'s filter ${filters.join(', ')}: it is not the message that failed`,
      }
    }
    return null
  }

  private async consumer(stream: string, name: string): Promise<ConsumerFacts | null> {
    const jsm = await this.conn.jsm()
    try {
      const info = await jsm.consumers.info(stream, name)
      const c = info.config as {filter_subject?: string; filter_subjects?: string[]}
      const filters = c.filter_subjects?.length ? c.filter_subjects : c.filter_subject ? [c.filter_subject] : []
      return {created: Date.parse(info.created), filters}
    } catch (error) {
      if (isNotFound(error)) return null
      throw error
    }
  }
}

const key = (stream: string, consumer: string) => `${stream}\u0000${consumer}`

/** The advisory's time: its own timestamp, never later than when DV_DLQ stored it. */
export function advisoryTime(advisory: Pick<DeadLetterAdvisory, 'timestamp'>, storedAt: string): number {
  const stored = Date.parse(storedAt)
  const own = advisory.timestamp ? Date.parse(advisory.timestamp) : NaN
  return Number.isFinite(own) ? Math.min(own, stored) : stored
}

function isoOf(ms: number): string {
  return Number.isFinite(ms) ? new Date(ms).toISOString() : 'unknown'
}

/**
 * Why a replay may not publish on `subject`, or undefined when it may: only concrete `dv.<service>.cmd.<action>`
 * subjects of the taxonomy, never a server or client namespace. Checked when planning, for `--to`, and
 * once more right before each publish.
 */
export function replayTargetProblem(subject: string): string | undefined {
  // A bulk replay asks this twice per dead letter, for a handful of distinct subjects.
  if (targetChecks.has(subject)) return targetChecks.get(subject)
  const problem = checkReplayTarget(subject)
  if (targetChecks.size >= 1024) targetChecks.clear()
  targetChecks.set(subject, problem)
  return problem
}

const targetChecks = new Map<string, string | undefined>()

function checkReplayTarget(subject: string): string | undefined {
  const upper = subject.toUpperCase()
  const reserved = FORBIDDEN_PUBLISH_PREFIXES.find((p) => upper.startsWith(p.toUpperCase()))
  if (reserved) return `${JSON.stringify(subject)} is in the reserved ${reserved.slice(0, -1)} namespace`
  const analysis = parseSubject(subject)
  if (!analysis.valid) return analysis.problems.map((p) => p.message).join(' ')
  if (analysis.family !== 'cmd')
    return `${JSON.stringify(subject)} is not a command subject (dv.<service>.cmd.<action>); a replay only sends commands`
  return undefined
}
