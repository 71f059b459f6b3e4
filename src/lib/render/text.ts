/**
 * Values from the bus turned into text (docs/architecture.md; issue 13, items 3 and 4). Everything a message
 * carries is untrusted: it may nest 20,000 levels deep, hold megabytes in one string, carry terminal escape
 * sequences, or (when it did not come from JSON.parse) be cyclic or have getters and `toString`/`toJSON`
 * methods that throw. The functions here never recurse on the value, never call code the value provides,
 * and bound what they produce.
 *
 * - `sanitize` is the one sanitiser for what reaches a terminal or a TSV line.
 * - `field` is how a renderer shows any value in a line or a cell: `safeText` then `sanitize`.
 * - `prettyJson` is the indented JSON shown to people (`dlq show`), bounded in depth and size.
 * - `jsonText` is the JSON printed with `--json`: JSON.stringify, falling back to an iterative writer when
 *   the value is too deep for it.
 */

/*
 * C0 controls (TAB, LF and CR included), DEL, C1 controls, and the invisible characters that change how a
 * line reads (bidirectional overrides and isolates, line and paragraph separators).
 */
// eslint-disable-next-line no-control-regex
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/
// eslint-disable-next-line no-control-regex
const UNSAFE_ALL = /[\u0000-\u001f\u007f-\u009f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g

const NAMED: Record<string, string> = {'\t': '\\t', '\n': '\\n', '\r': '\\r'}

/** How an unsafe character is shown: `\t`, `\n`, `\r`, `\x1b` (C0 and DEL), `\u009b` (C1 and the rest). */
function visible(c: string): string {
  const named = NAMED[c]
  if (named) return named
  const code = c.charCodeAt(0)
  return code < 0x80 ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`
}

/**
 * `line`: one line of output, a table cell or a TSV field; every control character, newline and tab
 * included, becomes a visible escape. `block`: text shown over several lines (pretty JSON, a raw body):
 * newlines are kept, everything else is escaped.
 */
export type TextMode = 'line' | 'block'

/**
 * Shows control characters and escape sequences as visible escapes, so that only dvctl's own styling
 * reaches the terminal: an ESC becomes the four characters `\x1b` (what follows it is then plain text), a
 * C1 CSI `\u009b`, a CR `\r`, a TAB `\t`. Backslashes are left as they are (readability over
 * reversibility; `--json` is the exact form). Idempotent: its output has nothing left to escape.
 */
export function sanitize(text: string, mode: TextMode = 'line'): string {
  if (!UNSAFE.test(text)) return text
  return text.replace(UNSAFE_ALL, (c) => (c === '\n' && mode === 'block' ? c : visible(c)))
}

/** Default longest text of one field; longer values end in `…`. */
export const FIELD_MAX = 1000

/**
 * Any value as short text, without running code the value provides: strings as they are, other
 * primitives with String, objects and arrays as compact JSON (own enumerable data properties only; no
 * `toJSON`, `toString` or getter is called; a cycle shows as "[Circular]"), cut at `max` characters with
 * `…`. Never throws. Not sanitised: see `field`.
 */
export function safeText(value: unknown, max = FIELD_MAX): string {
  if (typeof value === 'string') return clip(value, max)
  if (value === null || value === undefined || typeof value !== 'object') return clip(primitiveText(value), max)
  const text = writeJson(value, {indent: 0, budget: max + 1, maxDepth: Infinity, maxString: max + 1, display: true})
  return clip(text, max)
}

/** How a renderer shows a value from the bus in a line, a cell or a TSV field: safe text, sanitised. */
export function field(value: unknown, max = FIELD_MAX): string {
  return sanitize(safeText(value, max), 'line')
}

/** Cuts text to `max` characters, ending in `…` when cut. */
export function clip(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, Math.max(0, max - 1))}…` : text
}

export interface PrettyOptions {
  /** Levels shown indented; anything deeper is shown on one line, cut short. */
  maxDepth?: number
  /** Longest string shown; longer ones end in `…[+N chars]`. */
  maxString?: number
  /** Characters after which the output stops, with a note. */
  budget?: number
}

/**
 * Indented JSON for people (`dlq show`): the same as JSON.stringify(value, null, 2) for ordinary values,
 * but levels beyond `maxDepth` are shown compactly (cut at 80 characters), long strings are cut, and the
 * whole is cut after `budget` characters: `--json` prints everything. Sanitised for a terminal, never throws.
 */
export function prettyJson(value: unknown, options: PrettyOptions = {}): string {
  const budget = options.budget ?? 200_000
  const text = writeJson(value, {
    indent: 2,
    budget: budget + 1,
    maxDepth: options.maxDepth ?? 32,
    maxString: options.maxString ?? 4096,
    display: true,
  })
  const shown =
    text.length > budget ? `${text.slice(0, budget)}…\n(cut at ${budget} characters; --json shows it all)` : text
  return sanitize(shown, 'block')
}

/** Indentation stops growing past this depth in the iterative writer, so deep values stay linear in size. */
const INDENT_LIMIT = 64

/**
 * The JSON printed by `--json`: exactly JSON.stringify(value, null, indent) whenever that works. A value
 * JSON.stringify cannot write (nested deeper than its stack allows, or cyclic) is written by an iterative
 * writer instead: the same data for plain values (objects, arrays, strings, numbers, booleans, null,
 * dates), with indentation stopping at 64 levels (deeper levels are written compactly, still valid JSON),
 * cycles as the string "[Circular]", and no `toJSON` or getter called. Never throws.
 */
export function jsonText(value: unknown, indent = 0): string {
  try {
    const text = JSON.stringify(value, null, indent || undefined)
    if (text !== undefined) return text
  } catch {
    // Too deep for the native writer's stack, or cyclic, or a toJSON or getter threw: written below.
  }
  return writeJson(value, {indent, budget: Infinity, maxDepth: Infinity, maxString: Infinity, display: false}) || 'null'
}

/**
 * Array items jsonPieces writes with one JSON.stringify at most: as fast as 256 for a replay's result, and a run
 * of items far larger than those before them (a message's payload) goes at most this many items past a piece.
 */
const PIECE_ITEMS = 32

/**
 * jsonText(value, indent) in pieces of about `size` characters, the same text when joined: for a result of
 * 100,000 items, whose JSON in one string is 95 MB, and more again when written (V8 builds a long
 * JSON.stringify result as a rope of parts, which the write then copies into one string). The value's
 * first two levels are walked here, in JSON.stringify's order and with its rules for what an object leaves
 * out and an array writes as `null`. Below them, the items of an array are written a run at a time by one
 * JSON.stringify (each call has a cost of its own), or one by one by jsonText where that cannot write the run;
 * anything else by jsonText, indented to its place. A value that is not a plain object at the top (or has a
 * toJSON) is written whole.
 */
export function* jsonPieces(value: unknown, indent = 0, size = 1 << 20): Generator<string> {
  if (!isPlainContainer(value) || Array.isArray(value)) {
    yield jsonText(value, indent)
    return
  }
  const newline = indent ? '\n' : ''
  const pad = (depth: number) => newline + ' '.repeat(indent * depth)
  const colon = indent ? ': ' : ':'
  let parts: string[] = []
  let length = 0
  const put = (text: string) => {
    parts.push(text)
    length += text.length
  }
  const full = () => length >= size
  const take = () => {
    const text = parts.join('')
    parts = []
    length = 0
    return text
  }
  /** An item at `depth`: jsonText's text with each of its lines moved in to that depth. */
  const item = (v: unknown, depth: number) => {
    const text = jsonText(v, indent)
    return indent && text.includes('\n') ? text.replaceAll('\n', pad(depth)) : text
  }
  /**
   * Items `from` to `to` of an array at depth 1, each after its newline and indentation, comma-separated: one
   * JSON.stringify for all of them; item by item when that cannot write them.
   */
  const items = (v: unknown[], from: number, to: number): string => {
    try {
      // Inside a one-key object the items are two levels deep, where they belong: no line is moved in.
      const text = JSON.stringify({a: v.slice(from, to)}, null, indent || undefined)
      return text.slice(`{${pad(1)}"a"${colon}[`.length, -`${pad(1)}]${pad(0)}}`.length)
    } catch {
      const parts: string[] = []
      for (let j = from; j < to; j++) parts.push(`${pad(2)}${writable(v[j]) ? item(v[j], 2) : 'null'}`)
      return parts.join(',')
    }
  }
  const keys = Object.keys(value).filter((k) => writable(value[k]))
  if (keys.length === 0) {
    yield '{}'
    return
  }
  for (const [i, key] of keys.entries()) {
    put(`${i ? ',' : '{'}${pad(1)}${JSON.stringify(key)}${colon}`)
    const v = value[key]
    if (!Array.isArray(v) || !isPlainContainer(v) || v.length === 0) {
      put(item(v, 1))
      continue
    }
    // As many items at once as fill the piece, going by the size of those written so far (one at first).
    let written = 0
    for (let j = 0; j < v.length;) {
      const n = j ? Math.max(1, Math.min(PIECE_ITEMS, Math.ceil(((size - length) * j) / written))) : 1
      const text = items(v, j, Math.min(v.length, j + n))
      put((j ? ',' : '[') + text)
      written += text.length + 1
      j += n
      if (full()) yield take()
    }
    put(`${pad(1)}]`)
    if (full()) yield take()
  }
  put(`${pad(0)}}`)
  yield take()
}

/** A plain object or an array, which JSON.stringify writes by walking it (no toJSON of its own). */
function isPlainContainer(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null || typeof (v as {toJSON?: unknown}).toJSON === 'function') return false
  const proto = Object.getPrototypeOf(v) as unknown
  return Array.isArray(v) || proto === Object.prototype || proto === null
}

/** What JSON.stringify writes as an object's property (else leaves it out) or an array's item (else null). */
function writable(v: unknown): boolean {
  return v !== undefined && typeof v !== 'function' && typeof v !== 'symbol'
}

function primitiveText(value: unknown): string {
  switch (typeof value) {
    case 'symbol':
      return value.description === undefined ? 'Symbol()' : `Symbol(${value.description})`
    case 'function':
      return '[function]'
    case 'bigint':
      return `${value}n`
    default:
      return String(value)
  }
}

interface WriteOptions {
  indent: number
  /** Stop writing once this many characters are out. */
  budget: number
  /** Deeper containers are written compactly and cut short (display only). */
  maxDepth: number
  maxString: number
  /** For people: functions and symbols are named, long strings and deep levels cut. Else JSON semantics. */
  display: boolean
}

interface Frame {
  value: object
  /** Keys of an object; undefined for an array. */
  keys: string[] | undefined
  length: number
  index: number
  /** Something was written inside (a comma goes before the next entry). */
  wrote: boolean
  depth: number
}

/**
 * The iterative JSON writer behind safeText, prettyJson and jsonText's fallback: an explicit stack of open
 * containers instead of recursion, a set of the containers on the current path for cycles, property
 * descriptors instead of property reads (no getter runs), and a character budget so that a display of a
 * huge value costs only what is shown.
 */
function writeJson(root: unknown, o: WriteOptions): string {
  const parts: string[] = []
  let size = 0
  const put = (s: string) => {
    parts.push(s)
    size += s.length
  }
  const stack: Frame[] = []
  const open = new Set<object>()
  const newline = (depth: number) => {
    if (o.indent && depth <= INDENT_LIMIT) put('\n' + ' '.repeat(o.indent * depth))
  }

  /** What JSON does with undefined, a function or a symbol: null in an array, left out of an object. */
  const skip = (inArray: boolean): boolean => {
    if (!inArray) return false
    put('null')
    return true
  }

  /** Writes a scalar, or opens a container; false when the value is skipped (undefined in an object). */
  const writeValue = (value: unknown, depth: number, inArray: boolean): boolean => {
    switch (typeof value) {
      case 'string':
        put(stringText(value, o))
        return true
      case 'number':
        put(Number.isFinite(value) ? String(value) : 'null')
        return true
      case 'boolean':
        put(String(value))
        return true
      case 'bigint':
        put(o.display ? `${value}n` : JSON.stringify(String(value)))
        return true
      case 'function':
      case 'symbol':
        if (!o.display) return skip(inArray)
        put(JSON.stringify(primitiveText(value)))
        return true
      case 'undefined':
        return skip(inArray)
    }
    if (value === null) {
      put('null')
      return true
    }
    const object = value as object
    if (open.has(object)) {
      put('"[Circular]"')
      return true
    }
    if (isDate(object)) {
      put(dateText(object as Date))
      return true
    }
    if (depth >= o.maxDepth) {
      // Deep levels for people: one line, cut short.
      put(safeText(object, 80))
      return true
    }
    let isArray: boolean
    let keys: string[] | undefined
    let length: number
    try {
      isArray = Array.isArray(object)
      keys = isArray ? undefined : Object.keys(object)
      length = isArray ? (object as unknown[]).length : keys!.length
    } catch {
      // A proxy that throws on inspection.
      put('"[unreadable]"')
      return true
    }
    put(isArray ? '[' : '{')
    stack.push({value: object, keys, length, index: 0, wrote: false, depth: depth + 1})
    open.add(object)
    return true
  }

  try {
    if (!writeValue(root, 0, false)) return ''
    while (stack.length > 0 && size < o.budget) {
      const frame = stack[stack.length - 1]
      if (frame.index >= frame.length) {
        stack.pop()
        open.delete(frame.value)
        if (frame.wrote) newline(frame.depth - 1)
        put(frame.keys ? '}' : ']')
        continue
      }
      const i = frame.index++
      const mark = parts.length
      const before = size
      if (frame.wrote) put(',')
      newline(frame.depth)
      // Descriptors, not reads: no getter runs. An accessor is left out of an object and null in an array.
      const key = frame.keys ? frame.keys[i] : String(i)
      const descriptor = ownDescriptor(frame.value, key)
      const value: unknown = descriptor && 'value' in descriptor ? descriptor.value : undefined
      if (frame.keys) {
        if (!descriptor || !('value' in descriptor)) {
          parts.length = mark
          size = before
          continue
        }
        put(JSON.stringify(key) + (o.indent ? ': ' : ':'))
      }
      if (writeValue(value, frame.depth, !frame.keys)) {
        frame.wrote = true
      } else {
        parts.length = mark
        size = before
      }
    }
  } catch {
    // Not expected (each inspection above is guarded); what was written so far, marked.
    put('…[unreadable]')
  }
  if (stack.length > 0) put('…')
  return parts.join('')
}

function isDate(value: object): boolean {
  try {
    return value instanceof Date
  } catch {
    return false
  }
}

function ownDescriptor(value: object, key: string): PropertyDescriptor | undefined {
  try {
    return Object.getOwnPropertyDescriptor(value, key)
  } catch {
    return undefined
  }
}

function dateText(date: Date): string {
  try {
    const time = date.getTime()
    return Number.isNaN(time) ? 'null' : JSON.stringify(new Date(time).toISOString())
  } catch {
    // An object that only pretends to be a date.
    return 'null'
  }
}

function stringText(value: string, o: WriteOptions): string {
  if (value.length <= o.maxString) return JSON.stringify(value)
  const shown = JSON.stringify(value.slice(0, o.maxString))
  return `${shown.slice(0, -1)}…[+${value.length - o.maxString} chars]"`
}
