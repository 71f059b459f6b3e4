import {stripVTControlCharacters} from 'node:util'

/**
 * The one table layout for terminals: columns sized to the window, long cells cut with `…`, two spaces
 * between columns, one header line, no borders and no lines between rows (an operator reads 40 dead
 * letters on one screen, not 13). Piped output never comes here: it stays complete, tab-separated, without
 * a header row (terminal.ts `table`).
 */
export interface ColumnSpec {
  header: string
  /**
   * How a cell gives way when the table is too wide:
   * - `text` (default): cut at the end with `…`;
   * - `id`: cut at the end too, but never below `min` (default 8), so the prefix stays recognisable and
   *   can be typed back (ids are accepted by unique prefix);
   * - `fixed`: never cut (states, counts, times).
   */
  fit?: 'text' | 'id' | 'fixed'
  /** Narrowest the column may become (default: 8 for ids, 6 for text, the header's width at most). */
  min?: number
  align?: 'left' | 'right'
  /**
   * Shown only whole, when the table fits with it (the other columns at their `min`), or with `--wide`: the
   * columns an operator can do without on a narrow terminal. They give way from the right. Piped output
   * always has them.
   */
  optional?: boolean
}

export type Column = string | ColumnSpec

const GAP = '  '
const ELLIPSIS = '…'

type Spec = Required<Pick<ColumnSpec, 'header' | 'fit' | 'align' | 'optional'>> & {min: number}

function specOf(column: Column): Spec {
  const spec = typeof column === 'string' ? {header: column} : column
  const fit = spec.fit ?? 'text'
  const min = spec.min ?? (fit === 'id' ? 8 : 6)
  return {header: spec.header, fit, align: spec.align ?? 'left', min, optional: Boolean(spec.optional)}
}

/** Columns one code point takes on a terminal: 0 for combining marks, 2 for wide East Asian and emoji. */
export function charWidth(cp: number): number {
  if (cp < 0x20 || (cp >= 0x7f && cp < 0xa0)) return 0
  if ((cp >= 0x300 && cp <= 0x36f) || (cp >= 0x200b && cp <= 0x200f) || cp === 0xfe0f) return 0
  if (
    (cp >= 0x1100 && cp <= 0x115f) ||
    (cp >= 0x2e80 && cp <= 0xa4cf && cp !== 0x303f) ||
    (cp >= 0xac00 && cp <= 0xd7a3) ||
    (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0xfe30 && cp <= 0xfe4f) ||
    (cp >= 0xff00 && cp <= 0xff60) ||
    (cp >= 0xffe0 && cp <= 0xffe6) ||
    (cp >= 0x1f300 && cp <= 0x1faff) ||
    (cp >= 0x20000 && cp <= 0x3fffd)
  )
    return 2
  return 1
}

/** Terminal columns a cell takes, colour codes excluded. */
export function displayWidth(text: string): number {
  let width = 0
  for (const ch of stripVTControlCharacters(text)) width += charWidth(ch.codePointAt(0)!)
  return width
}

/** The cell cut to `width` columns with `…` (its colour dropped: a cut cell is plain). */
export function truncate(text: string, width: number): string {
  if (displayWidth(text) <= width) return text
  if (width <= 0) return ''
  const plain = stripVTControlCharacters(text)
  let out = ''
  let used = 0
  for (const ch of plain) {
    const w = charWidth(ch.codePointAt(0)!)
    if (used + w > width - 1) break
    out += ch
    used += w
  }
  return out + ELLIPSIS
}

function pad(text: string, width: number, align: 'left' | 'right'): string {
  const fill = ' '.repeat(Math.max(0, width - displayWidth(text)))
  return align === 'right' ? fill + text : text + fill
}

/** Each column's natural width: its widest cell or its header. */
function naturalWidths(specs: readonly Spec[], rows: ReadonlyArray<readonly string[]>): number[] {
  return specs.map((spec, i) => Math.max(displayWidth(spec.header), ...rows.map((r) => displayWidth(r[i] ?? ''))))
}

/** Whether a column is never cut: fixed ones, and optional ones (shown whole or not at all). */
const whole = (spec: Spec) => spec.fit === 'fixed' || spec.optional

/** The narrowest a column gives way to before the table is declared too narrow for it. */
function floorOf(spec: Spec, natural: number): number {
  return whole(spec) ? natural : Math.min(natural, spec.min)
}

const totalWidth = (widths: readonly number[]) =>
  widths.reduce((a, b) => a + b, 0) + GAP.length * Math.max(0, widths.length - 1)

/**
 * Column widths for `width` terminal columns, from each column's natural width: first ids give way down to
 * their minimum (a prefix is as good as the whole to recognise one and type it back), then the widest text
 * column, one terminal column at a time, down to its minimum; if the table is still too wide, the cuttable
 * columns go below their minimums (widest first, to 1) so that a line never wraps, unless the fixed columns
 * alone are wider than the terminal.
 */
export function columnWidths(
  columns: readonly Column[],
  rows: ReadonlyArray<readonly string[]>,
  width: number,
): number[] {
  const specs = columns.map(specOf)
  const widths = naturalWidths(specs, rows)
  const floor = specs.map((spec, i) => floorOf(spec, widths[i]))
  const giveWay = (eligible: (i: number) => boolean, limit: (i: number) => number) => {
    while (totalWidth(widths) > width) {
      let widest = -1
      for (let i = 0; i < widths.length; i++) {
        if (eligible(i) && widths[i] > limit(i) && (widest < 0 || widths[i] > widths[widest])) widest = i
      }
      if (widest < 0) return
      widths[widest] -= 1
    }
  }
  giveWay(
    (i) => specs[i].fit === 'id',
    (i) => floor[i],
  )
  giveWay(
    (i) => specs[i].fit === 'text',
    (i) => floor[i],
  )
  giveWay(
    (i) => specs[i].fit !== 'fixed',
    () => 1,
  )
  return widths
}

/**
 * Which columns a `width`-column terminal shows: all, unless the table does not fit with every optional
 * column whole and every other at its minimum; then the optional columns are left out, from the right,
 * until it does (or none is left).
 */
export function shownColumns(
  columns: readonly Column[],
  rows: ReadonlyArray<readonly string[]>,
  width: number,
): number[] {
  const specs = columns.map(specOf)
  const natural = naturalWidths(specs, rows)
  const shown = specs.map((_, i) => i)
  const fits = () => totalWidth(shown.map((i) => floorOf(specs[i], natural[i]))) <= width
  for (let i = specs.length - 1; i >= 0 && !fits(); i--) {
    if (specs[i].optional) shown.splice(shown.indexOf(i), 1)
  }
  return shown
}

/**
 * The table's lines: a header, then one line per row, each at most `width` columns unless the fixed
 * columns alone are wider. `wide` keeps every column and every cell whole (`--wide`).
 */
export function layoutTable(
  columns: readonly Column[],
  rows: ReadonlyArray<readonly string[]>,
  options: {width: number; wide?: boolean; header?: (text: string) => string},
): string[] {
  const width = options.wide ? Number.POSITIVE_INFINITY : options.width
  const shown = shownColumns(columns, rows, width)
  const specs = shown.map((i) => specOf(columns[i]))
  const cells = rows.map((row) => shown.map((i) => row[i] ?? ''))
  const widths = columnWidths(
    shown.map((i) => columns[i]),
    cells,
    width,
  )
  const line = (row: readonly string[]) =>
    specs
      .map((spec, i) => pad(truncate(row[i] ?? '', widths[i]), widths[i], spec.align))
      .join(GAP)
      .trimEnd()
  const style = options.header ?? ((text: string) => text)
  const head = specs.map((spec, i) => style(pad(truncate(spec.header, widths[i]), widths[i], spec.align)))
  return [head.join(GAP).trimEnd(), ...cells.map(line)]
}
