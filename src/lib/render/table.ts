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
}

export type Column = string | ColumnSpec

const GAP = '  '
const ELLIPSIS = '…'

function specOf(column: Column): Required<Pick<ColumnSpec, 'header' | 'fit' | 'align'>> & {min: number} {
  const spec = typeof column === 'string' ? {header: column} : column
  const fit = spec.fit ?? 'text'
  const min = spec.min ?? (fit === 'id' ? 8 : 6)
  return {header: spec.header, fit, align: spec.align ?? 'left', min}
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

/**
 * Column widths for `width` terminal columns: each column's natural width, then the widest cuttable column
 * gives way one column at a time until the table fits or every cuttable column is at its minimum.
 */
export function columnWidths(
  columns: readonly Column[],
  rows: ReadonlyArray<readonly string[]>,
  width: number,
): number[] {
  const specs = columns.map(specOf)
  const widths = specs.map((spec, i) =>
    Math.max(displayWidth(spec.header), ...rows.map((r) => displayWidth(r[i] ?? ''))),
  )
  const floor = specs.map((spec, i) => (spec.fit === 'fixed' ? widths[i] : Math.min(widths[i], spec.min)))
  const total = () => widths.reduce((a, b) => a + b, 0) + GAP.length * Math.max(0, widths.length - 1)
  while (total() > width) {
    let widest = -1
    for (let i = 0; i < widths.length; i++) {
      if (widths[i] > floor[i] && (widest < 0 || widths[i] > widths[widest])) widest = i
    }
    if (widest < 0) break
    widths[widest] -= 1
  }
  return widths
}

/**
 * The table's lines: a header, then one line per row, each at most `width` columns unless the fixed
 * columns alone are wider. `wide` keeps every cell whole (`--wide`).
 */
export function layoutTable(
  columns: readonly Column[],
  rows: ReadonlyArray<readonly string[]>,
  options: {width: number; wide?: boolean; header?: (text: string) => string},
): string[] {
  const specs = columns.map(specOf)
  const widths = columnWidths(columns, rows, options.wide ? Number.POSITIVE_INFINITY : options.width)
  const line = (cells: readonly string[]) =>
    specs
      .map((spec, i) => pad(truncate(cells[i] ?? '', widths[i]), widths[i], spec.align))
      .join(GAP)
      .trimEnd()
  const style = options.header ?? ((text: string) => text)
  const head = specs.map((spec, i) => style(pad(truncate(spec.header, widths[i]), widths[i], spec.align)))
  return [head.join(GAP).trimEnd(), ...rows.map(line)]
}
