import {createHash} from 'node:crypto'

import {compareText} from '../order.js'
import type {GroupKey} from './group-key.js'
import type {DeadLetter} from './model.js'

/** The service a dead command was addressed to: `dv.<service>.cmd.<action>`, else its consumer. */
export function serviceOf(letter: Pick<DeadLetter, 'subject' | 'consumer'>): string {
  const tokens = letter.subject?.split('.') ?? []
  return tokens[0] === 'dv' && tokens.length >= 3 ? tokens[1] : letter.consumer || 'unknown'
}

/** The value a dead letter is grouped by; null when it has none (no failure known, no envelope). */
export function groupValueOf(letter: DeadLetter, by: GroupKey): string | null {
  switch (by) {
    case 'type':
      return letter.type
    case 'consumer':
      return letter.consumer || null
    case 'service':
      return serviceOf(letter)
    case 'reason':
      return letter.reason
    case 'error':
      return letter.failure?.code ?? null
    case 'tenant':
      return letter.tenant_id
  }
}

/** A group value short and plain enough to be its own key (and typed on a command line unquoted). */
const PLAIN_VALUE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,47}$/

/**
 * The stable key of a failure group (docs/operations.md, failure groups): `<by>:<value>` when the value
 * is plain (`error:quota-exceeded`, `type:maskin.server.provision.requested`), `<by>:_` when the dead
 * letter has no such value (no failure known, no envelope), else `<by>:=` and the first 10 hex digits of
 * the value's SHA-256 (a value with spaces, slashes or over 48 characters, as the bus sent it). The same
 * value always gives the same key, on any site and in any listing, so a key read from `dlq list
 * --group-by` selects the same dead letters in `dlq replay --group` later.
 */
export function groupKeyFor(by: GroupKey, value: string | null): string {
  if (value === null || value === '') return `${by}:_`
  if (PLAIN_VALUE.test(value)) return `${by}:${value}`
  return `${by}:=${createHash('sha256').update(value).digest('hex').slice(0, 10)}`
}

export function groupKeyOf(letter: DeadLetter, by: GroupKey): string {
  return groupKeyFor(by, groupValueOf(letter, by))
}

export interface DeadLetterGroup {
  /** Stable key (groupKeyFor). */
  key: string
  by: GroupKey
  /** The value the letters share (null: they have none). */
  value: string | null
  count: number
}

/** Counts per group, largest first, then by key. */
export function groupDeadLetters(letters: Iterable<DeadLetter>, by: GroupKey): DeadLetterGroup[] {
  // Thousands of letters share a handful of values: each value is keyed (and perhaps hashed) once.
  const keys = new Map<string | null, string>()
  const groups = new Map<string, DeadLetterGroup>()
  for (const l of letters) {
    const value = groupValueOf(l, by)
    let key = keys.get(value)
    if (key === undefined) keys.set(value, (key = groupKeyFor(by, value)))
    const group = groups.get(key)
    if (group) group.count++
    else groups.set(key, {key, by, value, count: 1})
  }
  return [...groups.values()].sort((a, b) => b.count - a.count || compareText(a.key, b.key))
}
