import {stripVTControlCharacters} from 'node:util'

import chalk from 'chalk'

import {currentOutput} from '../context.js'
import type {Output} from './output.js'
import {charWidth, displayWidth, truncate} from './table.js'
import {formatAge} from './terminal.js'
import {field} from './text.js'

/**
 * Full-screen live views on a terminal (`task watch`, `workflow show --follow`). A view is drawn on the
 * alternate screen, from its top-left corner, every frame at most as many screen rows as the window has
 * (long lines wrap, and the wrapped rows are counted), redrawn on every change, every second and on every
 * resize. Nothing of it reaches the scrollback: the user's own screen and scrollback are left as they were,
 * and when the view stops its last state is printed there once, as ordinary output.
 */

export const ENTER_ALTERNATE = '\u001B[?1049h'
export const LEAVE_ALTERNATE = '\u001B[?1049l'
export const HIDE_CURSOR = '\u001B[?25l'
export const SHOW_CURSOR = '\u001B[?25h'
const HOME = '\u001B[H'
const ERASE_TO_LINE_END = '\u001B[K'
const ERASE_BELOW = '\u001B[J'

export interface ScreenSize {
  columns: number
  rows: number
}

/** Screen rows a line takes in `columns` columns, wrapping included (a wide character that does not fit wraps whole). */
export function screenRows(line: string, columns: number): number {
  const width = Math.max(1, columns)
  let rows = 1
  let column = 0
  for (const ch of stripVTControlCharacters(line)) {
    const w = charWidth(ch.codePointAt(0)!)
    if (column + w > width) {
      rows++
      column = 0
    }
    column += w
  }
  return rows
}

export interface FitOptions {
  /** Lines at the top that always stay (a status line, a header); cut to one row each when the rest does not fit. */
  keep?: number
  /** Which lines stay when there are too many: the first (default) or the last (the newest of a growing log). */
  from?: 'start' | 'end'
  /** The line standing in for the `n` lines left out. */
  more?: (n: number) => string
}

/** The lines of a frame cut to the window: at most `size.rows` screen rows in all, wrapped rows counted. */
export function fitLines(lines: readonly string[], size: ScreenSize, options: FitOptions = {}): string[] {
  const all = lines.flatMap((line) => line.split('\n'))
  const rowsOf = (line: string) => screenRows(line, size.columns)
  if (all.reduce((n, line) => n + rowsOf(line), 0) <= size.rows) return all
  const keep = Math.min(options.keep ?? 0, all.length)
  const more = options.more ?? ((n: number) => `… ${n} more line${n === 1 ? '' : 's'}`)
  const head = all.slice(0, keep).map((line) => truncate(line, size.columns))
  if (head.length >= size.rows) return head.slice(0, Math.max(0, size.rows))
  const body = all.slice(keep)
  // One row for the line that says what was left out.
  let budget = size.rows - head.length - 1
  const picked: string[] = []
  const order = options.from === 'end' ? [...body].reverse() : body
  for (const line of order) {
    const rows = rowsOf(line)
    if (rows > budget) {
      // The first line that does not fit shows what it can, cut.
      const cut = truncate(line, budget * size.columns - 1)
      if (budget > 0 && rowsOf(cut) <= budget) picked.push(cut)
      break
    }
    picked.push(line)
    budget -= rows
  }
  if (options.from === 'end') picked.reverse()
  const marker = chalk.dim(truncate(more(body.length - picked.length), size.columns))
  return options.from === 'end' ? [...head, marker, ...picked] : [...head, ...picked, marker]
}

/**
 * The bytes that paint `lines` from the top-left corner: each line, the rest of its last row erased (not
 * when the line ends exactly at the right margin, where an erase would take its last character), then
 * everything below the frame erased. Never a newline after the last row of a full window (it would scroll).
 */
export function paintFrame(lines: readonly string[], size: ScreenSize): string {
  let text = HOME
  let used = 0
  lines.forEach((line, i) => {
    if (i > 0) text += '\r\n'
    const width = displayWidth(line)
    text += line
    if (width === 0 || width % size.columns !== 0) text += ERASE_TO_LINE_END
    used += screenRows(line, size.columns)
  })
  if (lines.length === 0) return text + ERASE_BELOW
  if (used < size.rows) text += '\r\n' + ERASE_BELOW
  return text
}

/**
 * What a live view shows while it waits, and above its content: what is watched, on which sites, for how long.
 * `Watching tasks of service maskin on osl1, trd1 for 12s; no task event yet (Ctrl-C to stop)`
 */
export function statusLine(
  what: string,
  sites: readonly string[],
  since: number,
  state: string,
  now = Date.now(),
): string {
  const where = sites.length ? ` on ${sites.map((s) => field(s)).join(', ')}` : ''
  return chalk.dim(`Watching ${what}${where} for ${formatAge(now - since)}; ${state}`)
}

/** A live view on the alternate screen (see above); `frame` gives its lines for a window size. */
export class LiveScreen {
  private readonly output: Output = currentOutput()
  private active = false
  private timer?: NodeJS.Timeout
  private unsubscribe?: () => void
  private readonly onExit = () => this.leave()

  constructor(
    private readonly frame: (size: ScreenSize) => string[],
    private readonly options: FitOptions & {tickMs?: number} = {},
  ) {}

  /** The window's size now (it may have changed since the command started). */
  size(): ScreenSize {
    return {columns: Math.max(1, this.output.columns || 80), rows: Math.max(1, this.output.rows || 24)}
  }

  /** Switches to the alternate screen and draws the first frame; redraws on resize and every `tickMs` (1 s). */
  start(): void {
    if (this.active) return
    this.active = true
    this.output.write(ENTER_ALTERNATE + HIDE_CURSOR)
    this.unsubscribe = this.output.onResize(() => this.draw())
    const tick = this.options.tickMs ?? 1000
    if (tick > 0) {
      this.timer = setInterval(() => this.draw(), tick)
      this.timer.unref()
    }
    // However the process ends, the user's screen and cursor come back.
    process.once('exit', this.onExit)
    this.draw()
  }

  /** Redraws the frame in place (nothing before start or after stop). */
  draw(): void {
    if (!this.active) return
    const size = this.size()
    this.output.write(paintFrame(fitLines(this.frame(size), size, this.options), size))
  }

  /** Back to the user's screen, then `final` printed there once (the view's last state). */
  stop(final: readonly string[] = []): void {
    const wasActive = this.active
    this.leave()
    if (wasActive) for (const line of final) this.output.write(line + '\n')
  }

  private leave(): void {
    if (!this.active) return
    this.active = false
    clearInterval(this.timer)
    this.unsubscribe?.()
    process.off('exit', this.onExit)
    this.output.write(SHOW_CURSOR + LEAVE_ALTERNATE)
  }
}
