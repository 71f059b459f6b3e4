import ms from 'ms'

import {usageError} from './errors.js'

/** Parses `500ms`, `30s`, `2m`, `1h`, `14d` (and plain milliseconds) into milliseconds. */
export function parseDuration(text: string, what = 'duration'): number {
  let value: number | undefined
  try {
    value = /^\d+$/.test(text.trim()) ? Number(text) : ms(text.trim() as ms.StringValue)
  } catch {
    // `ms` throws (instead of returning undefined) on an empty string.
    value = undefined
  }
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw usageError(
      `Invalid ${what} "${text}"`,
      'bad-duration',
      'Use a number with a unit, like 500ms, 30s, 5m, 1h or 14d.',
    )
  }
  return value
}

/** Formats milliseconds the way a layout file writes them: the largest exact unit (`14d`, `2m`, `500ms`). */
export function formatDuration(millis: number): string {
  const units: Array<[string, number]> = [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1000],
  ]
  for (const [unit, size] of units) if (millis >= size && millis % size === 0) return `${millis / size}${unit}`
  return `${millis}ms`
}
