import chalk, {supportsColor} from 'chalk'

import {currentOutput} from '../context.js'
import type {Output} from './output.js'
import {layoutTable, type Column} from './table.js'
import {field, jsonText, sanitize} from './text.js'

/**
 * The only place that writes to stdout and stderr (docs/architecture.md), through the current command's
 * Output (src/lib/context.ts). Results go to stdout, everything else (progress, warnings, errors) to stderr.
 * Colour and tables only on a TTY.
 */
export interface Terminal {
  json: boolean
  stdoutTTY: boolean
  stdinTTY: boolean
  color: boolean
  /** Prompts allowed: stdin and stderr (where prompts go) are TTYs and `--no-input` was not given. */
  interactive: boolean
  /** `--wide`: tables on a TTY show every column and every cell whole instead of fitting the width. */
  wide?: boolean
  /** The terminal's size when stdout is one (tables and live views fit themselves to it). */
  columns?: number
  rows?: number
}

export function makeTerminal(
  output: Output,
  env: NodeJS.ProcessEnv,
  options: {json: boolean; noColor: boolean; noInput: boolean; wide?: boolean},
): Terminal {
  const {stdoutTTY, stdinTTY} = output
  const color = stdoutTTY && !options.json && !options.noColor && env.NO_COLOR === undefined && env.TERM !== 'dumb'
  // chalk is one per process: set both ways, so one in-process run's choice does not stick to the next.
  chalk.level = color ? (supportsColor ? supportsColor.level : 1) : 0
  return {
    json: options.json,
    stdoutTTY,
    stdinTTY,
    color,
    interactive: stdinTTY && output.stderrTTY && !options.noInput,
    wide: Boolean(options.wide),
    columns: output.columns,
    rows: output.rows,
  }
}

export function out(line = ''): void {
  currentOutput().write(line + '\n')
}

export function err(line = ''): void {
  currentOutput().writeErr(line + '\n')
}

/** A warning on stderr; its text often quotes what a server or a message said, so it is sanitised. */
export function warn(message: string): void {
  err(`${chalk.yellow('Warning:')} ${sanitize(message, 'block')}`)
}

/** One NDJSON line on stdout: streaming commands' `--json` output (never throws on a deep value). */
export function jsonLine(value: unknown): void {
  currentOutput().write(jsonText(value) + '\n')
}

/**
 * A table on a TTY: one header line, then one line per row, sized to the window (table.ts): optional columns
 * left out and long cells cut with `…` unless `--wide`. Otherwise (piped, redirected) tab-separated lines
 * without a header row, every column of the table (optional ones too, `--wide` or not) and every cell
 * complete, so `cut` and `awk` see the same columns every time. Cells are built by the renderers with
 * `field` (text.ts); a TSV cell is sanitised once more here, so that no tab, newline or control character of
 * the data can split or corrupt a line (without colour there is no styling to keep).
 */
export async function table(
  term: Terminal,
  head: readonly Column[],
  rows: Array<Array<string | number>>,
): Promise<void> {
  if (!term.stdoutTTY) {
    for (const row of rows) out(row.map((cell) => sanitize(String(cell))).join('\t'))
    return
  }
  const cells = rows.map((row) => row.map((cell) => String(cell)))
  const width = term.columns || 80
  for (const line of layoutTable(head, cells, {width, wide: term.wide, header: (h) => chalk.bold(h)})) out(line)
}

/** RFC 3339 when not on a TTY; relative (`3m ago`) on a TTY. */
export function formatTime(term: Terminal, time: string | Date | undefined, now = Date.now()): string {
  if (time === undefined || time === null) return '-'
  if (typeof time !== 'string' && !(time instanceof Date)) return field(time)
  const date = typeof time === 'string' ? new Date(time) : time
  if (Number.isNaN(date.getTime())) return field(time)
  if (!term.stdoutTTY) return date.toISOString()
  return `${formatAge(now - date.getTime())} ago`
}

/**
 * RFC 3339 when not on a TTY; on a TTY the clock time, `14:03:07` (with the date, `2026-03-13 14:03:07`,
 * when it is not today). For scrolling logs (`tail --follow`, `publish --wait`): a line stays on screen, and
 * an age printed with it (`0s ago`) is wrong a second later.
 */
export function formatClock(term: Terminal, time: string | Date | undefined, now = Date.now()): string {
  if (time === undefined || time === null) return '-'
  if (typeof time !== 'string' && !(time instanceof Date)) return field(time)
  const date = typeof time === 'string' ? new Date(time) : time
  if (Number.isNaN(date.getTime())) return field(time)
  if (!term.stdoutTTY) return date.toISOString()
  const two = (n: number) => String(n).padStart(2, '0')
  const day = (d: Date) => `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())}`
  const clock = `${two(date.getHours())}:${two(date.getMinutes())}:${two(date.getSeconds())}`
  return day(date) === day(new Date(now)) ? clock : `${day(date)} ${clock}`
}

export function formatAge(millis: number): string {
  const s = Math.max(0, Math.round(millis / 1000))
  if (s < 60) return `${s}s`
  if (s < 3600) return `${Math.floor(s / 60)}m${s % 60 ? `${s % 60}s` : ''}`
  if (s < 86_400) return `${Math.floor(s / 3600)}h${Math.floor((s % 3600) / 60)}m`
  return `${Math.floor(s / 86_400)}d${Math.floor((s % 86_400) / 3600)}h`
}
