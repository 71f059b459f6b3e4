import type {DeadLetter} from './model.js'

export const GROUP_KEYS = ['type', 'consumer', 'service', 'reason', 'error'] as const
export type GroupKey = (typeof GROUP_KEYS)[number]

/** The service a dead command was addressed to: `dv.<service>.cmd.<action>`, else its consumer. */
export function serviceOf(letter: Pick<DeadLetter, 'subject' | 'consumer'>): string {
  const tokens = letter.subject?.split('.') ?? []
  return tokens[0] === 'dv' && tokens.length >= 3 ? tokens[1] : letter.consumer || 'unknown'
}

export function groupKeyOf(letter: DeadLetter, by: GroupKey): string {
  switch (by) {
    case 'type':
      return letter.type ?? '(unknown)'
    case 'consumer':
      return letter.consumer || '(unknown)'
    case 'service':
      return serviceOf(letter)
    case 'reason':
      return letter.reason
    case 'error':
      return letter.failure?.code ?? '(no failure event)'
  }
}

/** Counts per key, largest first, then by key. */
export function groupDeadLetters(letters: Iterable<DeadLetter>, by: GroupKey): Array<{key: string; count: number}> {
  const counts = new Map<string, number>()
  for (const l of letters) {
    const key = groupKeyOf(l, by)
    counts.set(key, (counts.get(key) ?? 0) + 1)
  }
  return [...counts]
    .map(([key, count]) => ({key, count}))
    .sort((a, b) => b.count - a.count || a.key.localeCompare(b.key))
}
