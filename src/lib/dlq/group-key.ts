import {usageError} from '../errors.js'

/**
 * What dead letters are grouped by, and a group key's syntax: apart from src/lib/dlq/group.ts, which hashes
 * values (node:crypto), so that every command's flags can check `--group-by` and `--group` without loading it.
 */
export const GROUP_KEYS = ['error', 'reason', 'type', 'service', 'consumer', 'tenant'] as const
export type GroupKey = (typeof GROUP_KEYS)[number]

/** `--group KEY`: which grouping the key belongs to (its prefix); a usage error when it names none. */
export function parseGroupKey(key: string): {by: GroupKey; key: string} {
  const by = key.slice(0, key.indexOf(':')) as GroupKey
  if (!key.includes(':') || !GROUP_KEYS.includes(by) || key.length === by.length + 1) {
    throw usageError(
      `Invalid group key "${key}"`,
      'bad-group-key',
      `A group key is <by>:<value> with <by> one of ${GROUP_KEYS.join(', ')} (dvctl dlq list --group-by error shows them).`,
    )
  }
  return {by, key}
}
