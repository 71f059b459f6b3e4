import {UserError} from '../errors.js'
import {ExitCode} from '../exit-codes.js'
import type {FanOut} from '../nats/fanout.js'
import {compareText} from '../order.js'
import type {GroupKey} from './group-key.js'
import {groupDeadLetters} from './group.js'
import type {DeadLetter, DlqListResult} from './model.js'
import {type ArchiveReport, readDeadLetters, type DeadLetterSelection} from './read.js'
import {letterMatcher, type LetterFilter} from './select.js'

export interface ListOptions extends DeadLetterSelection {
  groupBy?: GroupKey
  /** The failure-group filters (select.ts), applied to what is read. */
  filter?: LetterFilter
}

/**
 * `dlq list`: the dead letters of every reachable site, read concurrently; refs are site-qualified when
 * more than one site is selected (docs/operations.md, dead letters). Unreachable sites are listed in `sites`.
 * Every original read that the site's dead-letter archive has no copy of yet is archived on the way (read.ts).
 */
export async function listDeadLetters(fan: FanOut, options: ListOptions): Promise<DlqListResult & {lost: string[]}> {
  const qualified = fan.sites.length > 1
  const archive: ArchiveReport = {archived: 0, warnings: []}
  const settled = await Promise.allSettled(
    fan.connections.map((conn) => readDeadLetters(conn, {...options, qualified, archive})),
  )
  // A site whose server stopped answering mid-read is reported; the others are listed (exit 68).
  const lost = new Map<string, string>()
  const perSite: DeadLetter[][] = []
  settled.forEach((s, i) => {
    if (s.status === 'fulfilled') perSite.push(s.value)
    else if (s.reason instanceof UserError && s.reason.exitCode === ExitCode.unavailable && fan.connections.length > 1)
      lost.set(fan.connections[i].site.name, s.reason.message)
    else throw s.reason
  })
  const matches = options.filter ? letterMatcher(options.filter) : () => true
  const deadLetters: DeadLetter[] = perSite.flat().filter(matches)
  if (perSite.length > 1) deadLetters.sort((x, y) => compareText(x.dead_lettered_at, y.dead_lettered_at))
  if (perSite.length === 0) throw (settled.find((s) => s.status === 'rejected') as PromiseRejectedResult).reason
  return {
    dead_letters: deadLetters,
    groups: options.groupBy ? groupDeadLetters(deadLetters, options.groupBy) : [],
    sites: fan.sites.map((s) => (lost.has(s.site) ? {...s, error: lost.get(s.site)} : s)),
    total: deadLetters.length,
    archived: archive.archived,
    warnings: archive.warnings,
    lost: [...lost.values()],
  }
}
