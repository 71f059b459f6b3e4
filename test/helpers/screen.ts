// A small terminal emulator for tests of live views: what dvctl wrote to a terminal, replayed onto a screen
// with a scrollback, so a test can count what the user is left with (issue 15: copies of a table in the
// scrollback). It knows what dvctl's renderers write: printable characters with autowrap (and the pending
// wrap at the right margin, as xterm does), CR, LF, BS, and the CSI sequences H, A, B, C, D, G, J, K, m and
// the private modes ?1049 (alternate screen), ?25 (cursor shown or hidden) and ?2026 (synchronized output,
// which changes nothing on the screen). Lines that scroll off the top of the normal
// screen go to the scrollback; the alternate screen has none. Any other escape sequence is recorded in
// `unknown`, so a test can insist there is none.
import {charWidth} from '../../src/lib/render/table.js'

type Row = string[]

export class Screen {
  /** Lines scrolled off the top of the normal screen, oldest first. */
  readonly scrollback: string[] = []
  /** Escape sequences this emulator does not know. */
  readonly unknown: string[] = []
  /** How many times the alternate screen was entered. */
  alternateEntered = 0
  /** Whether the cursor is shown (?25h) or hidden (?25l). */
  cursorVisible = true
  private normal: Row[]
  private alternate: Row[]
  private alt = false
  private row = 0
  private col = 0
  /** The cursor wrote the last column: the next character goes to the next row (xterm's pending wrap). */
  private pendingWrap = false
  private saved = {row: 0, col: 0}
  private pending = ''

  /**
   * `onlcr`: LF also returns the carriage, as the terminal driver makes it (stty onlcr) between a program
   * and the terminal; off for bytes read from a pseudo-terminal, where the driver has already done it.
   */
  constructor(
    public columns: number,
    public rows: number,
    private readonly options: {onlcr?: boolean} = {},
  ) {
    this.normal = this.blank(rows)
    this.alternate = this.blank(rows)
  }

  private blank(n: number): Row[] {
    return Array.from({length: n}, () => Array<string>(this.columns).fill(' '))
  }

  private get grid(): Row[] {
    return this.alt ? this.alternate : this.normal
  }

  get onAlternateScreen(): boolean {
    return this.alt
  }

  /** The visible screen, one string per row, trailing blanks removed. */
  lines(): string[] {
    return this.grid.map((r) => r.join('').trimEnd())
  }

  /** Scrollback and the normal screen: everything the user can scroll through once the program ends. */
  history(): string[] {
    return [...this.scrollback, ...this.normal.map((r) => r.join('').trimEnd())]
  }

  /**
   * A window resize, without reflow (as xterm): rows are cut or padded on the right and at the bottom; on
   * the normal screen, rows above the cursor scroll into the scrollback when the window gets shorter.
   */
  resize(columns: number, rows: number): void {
    const cursor = this.alt ? this.saved : {row: this.row, col: this.col}
    const cut = Math.max(0, cursor.row - (rows - 1))
    for (const r of this.normal.slice(0, cut)) this.scrollback.push(r.join('').trimEnd())
    const fit = (grid: Row[]) => {
      const kept = grid.slice(0, rows).map((r) => {
        const next = r.slice(0, columns)
        while (next.length < columns) next.push(' ')
        return next
      })
      while (kept.length < rows) kept.push(Array<string>(columns).fill(' '))
      return kept
    }
    this.columns = columns
    this.rows = rows
    this.normal = fit(this.normal.slice(cut))
    this.alternate = fit(this.alternate)
    cursor.row -= cut
    if (this.alt) this.saved = cursor
    else this.row = cursor.row
    this.row = Math.min(rows - 1, this.row)
    this.col = Math.min(columns - 1, this.col)
    this.pendingWrap = false
  }

  write(data: string): void {
    const text = this.pending + data
    this.pending = ''
    let i = 0
    while (i < text.length) {
      const ch = text[i]
      if (ch === '\u001b') {
        const rest = text.slice(i)
        // eslint-disable-next-line no-control-regex
        const csi = /^\u001b\[([?]?)([0-9;]*)([@-~])/.exec(rest)
        if (csi) {
          this.csi(csi[1], csi[2], csi[3], csi[0])
          i += csi[0].length
          continue
        }
        // An incomplete sequence at the end of a chunk: wait for the rest.
        // eslint-disable-next-line no-control-regex
        if (/^\u001b(\[[?]?[0-9;]*)?$/.test(rest)) {
          this.pending = rest
          return
        }
        this.unknown.push(rest.slice(0, 2))
        i += 2
        continue
      }
      const cp = text.codePointAt(i)!
      const size = cp > 0xffff ? 2 : 1
      i += size
      if (ch === '\r') {
        this.col = 0
        this.pendingWrap = false
      } else if (ch === '\n') {
        if (this.options.onlcr ?? true) this.col = 0
        this.lineFeed()
      } else if (ch === '\b') {
        this.col = Math.max(0, this.col - 1)
        this.pendingWrap = false
      } else if (cp >= 0x20) {
        this.put(String.fromCodePoint(cp), charWidth(cp))
      }
    }
  }

  private put(ch: string, width: number): void {
    if (width === 0) return
    if (this.pendingWrap || this.col + width > this.columns) {
      this.col = 0
      this.lineFeed()
    }
    this.grid[this.row][this.col] = ch
    if (width === 2 && this.col + 1 < this.columns) this.grid[this.row][this.col + 1] = ''
    this.col += width
    if (this.col >= this.columns) {
      this.col = this.columns - 1
      this.pendingWrap = true
    }
  }

  private lineFeed(): void {
    this.pendingWrap = false
    if (this.row < this.rows - 1) {
      this.row++
      return
    }
    const top = this.grid.shift()!
    if (!this.alt) this.scrollback.push(top.join('').trimEnd())
    this.grid.push(Array<string>(this.columns).fill(' '))
  }

  private csi(privateMark: string, params: string, final: string, raw: string): void {
    const nums = params === '' ? [] : params.split(';').map(Number)
    const n = nums[0] || 1
    if (privateMark === '?') {
      if (nums[0] === 1049 && final === 'h' && !this.alt) {
        this.saved = {row: this.row, col: this.col}
        this.alt = true
        this.alternateEntered++
        this.alternate = this.blank(this.rows)
        this.row = 0
        this.col = 0
      } else if (nums[0] === 1049 && final === 'l' && this.alt) {
        this.alt = false
        this.row = this.saved.row
        this.col = this.saved.col
      } else if (nums[0] === 25 && (final === 'h' || final === 'l')) this.cursorVisible = final === 'h'
      else if (nums[0] !== 2026 && nums[0] !== 1049) this.unknown.push(raw)
      this.pendingWrap = false
      return
    }
    const clear = (r: number, from: number, to: number) => {
      for (let c = from; c < to; c++) this.grid[r][c] = ' '
    }
    switch (final) {
      case 'm':
        return
      case 'H':
        this.row = Math.min(this.rows, nums[0] || 1) - 1
        this.col = Math.min(this.columns, nums[1] || 1) - 1
        break
      case 'A':
        this.row = Math.max(0, this.row - n)
        break
      case 'B':
        this.row = Math.min(this.rows - 1, this.row + n)
        break
      case 'C':
        this.col = Math.min(this.columns - 1, this.col + n)
        break
      case 'D':
        this.col = Math.max(0, this.col - n)
        break
      case 'G':
        this.col = Math.min(this.columns, n) - 1
        break
      case 'K': {
        const mode = nums[0] ?? 0
        if (mode === 0) clear(this.row, this.col, this.columns)
        else if (mode === 1) clear(this.row, 0, this.col + 1)
        else clear(this.row, 0, this.columns)
        break
      }
      case 'J': {
        const mode = nums[0] ?? 0
        if (mode === 0) {
          clear(this.row, this.col, this.columns)
          for (let r = this.row + 1; r < this.rows; r++) clear(r, 0, this.columns)
        } else if (mode === 1) {
          for (let r = 0; r < this.row; r++) clear(r, 0, this.columns)
          clear(this.row, 0, this.col + 1)
        } else for (let r = 0; r < this.rows; r++) clear(r, 0, this.columns)
        break
      }
      default:
        this.unknown.push(raw)
    }
    this.pendingWrap = false
  }
}
