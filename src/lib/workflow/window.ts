import {parseDuration} from '../duration.js'
import {usageError} from '../errors.js'
import type {ScanWindow} from '../nats/reader.js'

/** The default history of `workflow show` and `tail --since` (README). */
export const DEFAULT_SINCE_MS = 24 * 3_600_000

function parseTime(text: string, flag: string): Date {
  const date = new Date(text)
  if (!/^\d{4}-\d{2}-\d{2}/.test(text) || Number.isNaN(date.getTime())) {
    throw usageError(
      `Invalid ${flag} "${text}"`,
      'bad-time',
      `Give an RFC 3339 time like 2026-03-14T09:00:00Z, or use --since with a duration.`,
    )
  }
  return date
}

/**
 * `--from`/`--to` (RFC 3339) bound the read; otherwise `--since` (a duration back from now, default 24h).
 * `--since 0` reads the whole stream.
 */
export function resolveWindow(
  flags: {since?: number; from?: string; to?: string},
  now: number = Date.now(),
): ScanWindow {
  if (flags.from !== undefined || flags.to !== undefined) {
    if (flags.since !== undefined) throw usageError('Give either --since or --from/--to, not both.', 'usage')
    const from = flags.from === undefined ? undefined : parseTime(flags.from, '--from')
    const to = flags.to === undefined ? undefined : parseTime(flags.to, '--to')
    if (from && to && from > to) throw usageError('--from is after --to.', 'bad-time', 'Swap the two times.')
    return {from, to}
  }
  const since = flags.since ?? DEFAULT_SINCE_MS
  return since === 0 ? {} : {from: new Date(now - since)}
}

/**
 * `--since` (a duration back from now, default 24h; 0: from the streams' start) and `--until` (an RFC 3339
 * time, or a duration back from now): the window `workflow list` and `workflow count` read.
 */
export function resolveSinceUntil(flags: {since?: number; until?: string}, now: number = Date.now()): ScanWindow {
  const since = flags.since ?? DEFAULT_SINCE_MS
  const from = since === 0 ? undefined : new Date(now - since)
  let to: Date | undefined
  if (flags.until !== undefined) {
    to = /^\d{4}-\d{2}-\d{2}/.test(flags.until)
      ? parseTime(flags.until, '--until')
      : new Date(now - parseDuration(flags.until, '--until'))
  }
  if (from && to && from > to) {
    throw usageError('--until is before --since.', 'bad-time', 'Give an --until later than the start of --since.')
  }
  return {...(from ? {from} : {}), ...(to ? {to} : {})}
}
