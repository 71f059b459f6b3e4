import type {FanOut} from '../nats/fanout.js'
import {groupDeadLetters, type GroupKey} from './group.js'
import type {DeadLetter, DlqListResult} from './model.js'
import {readDeadLetters, type DeadLetterSelection} from './read.js'

export interface ListOptions extends DeadLetterSelection {
  groupBy?: GroupKey
}

/**
 * `dlq list`: the dead letters of every reachable site, read concurrently; refs are site-qualified when
 * more than one site is selected (DESIGN.md section 6). Unreachable sites are listed in `sites`.
 */
export async function listDeadLetters(fan: FanOut, options: ListOptions): Promise<DlqListResult> {
  const qualified = fan.sites.length > 1
  const perSite = await Promise.all(fan.connections.map((conn) => readDeadLetters(conn, {...options, qualified})))
  const deadLetters: DeadLetter[] = perSite.flat()
  if (perSite.length > 1) deadLetters.sort((x, y) => x.dead_lettered_at.localeCompare(y.dead_lettered_at))
  return {
    dead_letters: deadLetters,
    groups: options.groupBy ? groupDeadLetters(deadLetters, options.groupBy) : [],
    sites: fan.sites,
    total: deadLetters.length,
  }
}
