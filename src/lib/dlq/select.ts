import {groupDeadLetters, groupKeyOf, serviceOf} from './group.js'
import {parseGroupKey, type GroupKey} from './group-key.js'
import type {DeadLetter, HeldItem, PlanSelection} from './model.js'
import {readDeadLetters, type DeadLetterSelection} from './read.js'
import {formatRef, localRef} from './ref.js'
import type {SiteConnection} from '../nats/connection.js'
import {heldReason, holdOf, loadTriage, type TriageState} from './triage.js'

/**
 * Which dead letters a replay, a discard or a hold acts on, beyond the list filters of read.ts
 * (docs/operations.md, failure groups): a failure group's key, the failure's code, text in its reason,
 * the service, the correlation and an end time. They are matched on the dead letters as read (the
 * failure is only known after the join), so they narrow what `readDeadLetters` returns.
 */
export interface LetterFilter {
  /** A group key from `dlq list --group-by` (group.ts). */
  group?: string
  /** The failure's code (`data.error.code` or the term reason's code). */
  error?: string
  /** Text in the reason, the term reason or the failure (case-insensitive). */
  failureReason?: string
  service?: string
  correlation?: string
  /** Dead-lettered before this time. */
  until?: Date
}

export function hasFilter(filter: LetterFilter): boolean {
  return Object.values(filter).some((v) => v !== undefined)
}

/** Checks the filter once (a bad group key is a usage error before anything is read). */
export function letterMatcher(filter: LetterFilter): (letter: DeadLetter) => boolean {
  const group = filter.group ? parseGroupKey(filter.group) : undefined
  const text = filter.failureReason?.toLowerCase()
  const until = filter.until?.getTime()
  return (l) => {
    if (group && groupKeyOf(l, group.by) !== group.key) return false
    if (filter.error !== undefined && l.failure?.code !== filter.error) return false
    if (filter.service !== undefined && (l.status === 'invalid' || serviceOf(l) !== filter.service)) return false
    if (filter.correlation !== undefined && !l.correlation_id?.startsWith(filter.correlation)) return false
    if (until !== undefined && !(Date.parse(l.dead_lettered_at) < until)) return false
    if (text !== undefined) {
      const failure = l.failure ? `${l.failure.code}: ${l.failure.message}` : ''
      if (![l.reason, l.term_reason ?? '', failure].some((s) => s.toLowerCase().includes(text))) return false
    }
    return true
  }
}

/**
 * The screen a plan applies to each dead letter it read, before deciding how to act on it: `drop` (the
 * filters do not select it), a skip reason (it is held: `dlq release` first), or undefined (decide as usual).
 */
export type Screen = ((letter: DeadLetter) => 'drop' | string | undefined) & {
  /** The filters look at the failure (joined from task events where the advisory has no term reason). */
  needsFailures?: boolean
  /** The filters look at the envelope (type, tenant, correlation; the failure join needs its id too). */
  needsSummaries?: boolean
}
/**
 * The selection of one replay, discard or hold (docs/operations.md): the filters and the triage state,
 * `screen` for the plan (which drops what the filters do not select and skips what is held, unless
 * `holds` is false), and what the plan touched, by group, with the held ones.
 */
export class Selector {
  readonly held: HeldItem[] = []
  private readonly matches: (letter: DeadLetter) => boolean

  constructor(
    private readonly filter: LetterFilter,
    private readonly triage: TriageState,
    private readonly options: {holds: boolean} = {holds: true},
  ) {
    this.matches = letterMatcher(filter)
    this.screen = Object.assign(
      (letter: DeadLetter) => {
        if (!this.matches(letter)) return 'drop'
        const hold = this.options.holds ? holdOf(letter, this.triage) : null
        if (!hold) return undefined
        this.held.push({ref: letter.ref, ...hold})
        return heldReason(hold)
      },
      {needsFailures: needsFailures(filter), needsSummaries: needsSummaries(filter)},
    )
  }

  readonly screen: Screen

  /**
   * The plan's groups: by the --group's grouping; else by error when the failures were read (a failure
   * filter); else by service, which the subject tells without reading more (a bulk replay skips the join).
   */
  summary(touched: DeadLetter[]): PlanSelection {
    const by: GroupKey = this.filter.group
      ? parseGroupKey(this.filter.group).by
      : needsFailures(this.filter)
        ? 'error'
        : 'service'
    return {
      letters: touched.length,
      groups: groupDeadLetters(touched, by).map(({key, count}) => ({key, count})),
      held: this.held,
    }
  }
}

function needsFailures(filter: LetterFilter): boolean {
  const by = filter.group ? parseGroupKey(filter.group).by : undefined
  return filter.error !== undefined || filter.failureReason !== undefined || by === 'error'
}

function needsSummaries(filter: LetterFilter): boolean {
  const by = filter.group ? parseGroupKey(filter.group).by : undefined
  return needsFailures(filter) || filter.correlation !== undefined || by === 'type' || by === 'tenant'
}

/** Loads the site's triage state and makes the selector of one plan. */
export async function selectorFor(
  conn: SiteConnection,
  filter: LetterFilter,
  options: {holds: boolean} = {holds: true},
): Promise<Selector> {
  letterMatcher(filter)
  return new Selector(filter, await loadTriage(conn), options)
}

/**
 * The dead letters a hold, release or note acts on: the named ones (any status; `notFound` lists the
 * references with no dead letter), or those the filters select (default status pending).
 */
export async function readTargets(
  conn: SiteConnection,
  targets: {refs: string[]; filter: LetterFilter} | {all: DeadLetterSelection; filter: LetterFilter},
): Promise<{letters: DeadLetter[]; notFound: string[]}> {
  if ('refs' in targets) {
    const refs = targets.refs.map((text) => formatRef(localRef(conn.site.name, text)))
    const letters = (await readDeadLetters(conn, {refs: new Set(refs), status: 'all', qualified: false})).filter(
      (l) => l.status !== 'invalid',
    )
    const found = new Set(letters.map((l) => l.ref))
    return {letters, notFound: [...new Set(refs)].filter((r) => !found.has(r))}
  }
  const matches = letterMatcher(targets.filter)
  const letters = await readDeadLetters(conn, {...targets.all, qualified: false})
  return {letters: letters.filter((l) => l.status !== 'invalid' && matches(l)), notFound: []}
}
