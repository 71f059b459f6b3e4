import {readFile} from 'node:fs/promises'
import {TextDecoder} from 'node:util'

import {z} from 'zod'

import {usageError} from '../errors.js'
import {validateEnvelope, type ValidateEnvelopeOptions} from './envelope.js'
import {ProblemSchema} from './problem-schema.js'
import {problem, type Problem} from './problems.js'
import {readAll} from '../stdin.js'

/** One checked message of `contract validate` (docs/architecture.md, JSON results). */
export const ValidationItem = z.object({
  index: z.number().int(),
  /** 1-based line where the message starts in the input. */
  line: z.number().int().optional(),
  id: z.string().nullable(),
  type: z.string().nullable(),
  valid: z.boolean(),
  problems: z.array(ProblemSchema),
  warnings: z.array(ProblemSchema),
})
export type ValidationItem = z.infer<typeof ValidationItem>

export const ValidateResult = z.object({valid: z.boolean(), results: z.array(ValidationItem)})
export type ValidateResult = z.infer<typeof ValidateResult>

export type ValidateDocumentsOptions = Pick<ValidateEnvelopeOptions, 'subject' | 'strict' | 'registry' | 'maxPayload'>

/**
 * Reads the input of `contract validate`: a file, or stdin for `-` or no path. An unreadable file is a
 * user error (exit 2) saying why.
 */
export async function readDocumentSource(path: string | undefined, stdin: NodeJS.ReadableStream): Promise<Uint8Array> {
  if (path === undefined || path === '-') {
    return readAll(stdin)
  }
  try {
    return await readFile(path)
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    const why =
      code === 'ENOENT'
        ? 'no such file'
        : code === 'EISDIR'
          ? 'it is a directory'
          : code === 'EACCES'
            ? 'permission denied'
            : (error as Error).message
    throw usageError(
      `Cannot read ${path}: ${why}.`,
      'unreadable-file',
      'Give a readable JSON or NDJSON file, or - to read stdin.',
    )
  }
}

/**
 * Validates every message in `input`: one JSON object, a JSON array of messages, or a sequence of JSON
 * values (NDJSON, or pretty-printed objects one after another as `jq` writes them). A value that is not
 * JSON becomes an invalid result of its own; the others are still checked.
 */
export function validateDocuments(input: Uint8Array | string, opts: ValidateDocumentsOptions = {}): ValidateResult {
  let text: string
  if (typeof input === 'string') {
    text = input
  } else {
    try {
      text = new TextDecoder('utf-8', {fatal: true}).decode(input)
    } catch {
      return invalidWhole(problem('$', 'bad-utf8', 'The input is not valid UTF-8, so it cannot hold JSON messages.'))
    }
  }
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1)
  const chunks = looksLikeNdjson(text) ? splitLines(text) : splitJsonValues(text)
  if (chunks.length === 0) {
    throw usageError(
      'The input is empty: there are no messages to validate.',
      'empty-input',
      'Give a file holding a JSON envelope, an array of them, or NDJSON.',
    )
  }

  let documents: Array<{line?: number; value?: unknown; error?: Problem}> = chunks.map((c) => parseChunk(c))
  // A single top-level array is a list of messages (an array inside NDJSON stays one invalid message).
  if (documents.length === 1 && Array.isArray(documents[0].value)) {
    documents = (documents[0].value as unknown[]).map((value) => ({value}))
    if (documents.length === 0) {
      throw usageError('The input is an empty array: there are no messages to validate.', 'empty-input')
    }
  }

  const results = documents.map((doc, index): ValidationItem => {
    const line = doc.line === undefined ? {} : {line: doc.line}
    if (doc.error) return {index, ...line, id: null, type: null, valid: false, problems: [doc.error], warnings: []}
    const check = validateEnvelope(doc.value, opts)
    const record = typeof doc.value === 'object' && doc.value !== null ? (doc.value as Record<string, unknown>) : {}
    return {
      index,
      ...line,
      id: typeof record.id === 'string' ? record.id : null,
      type: typeof record.type === 'string' ? record.type : null,
      valid: check.valid,
      problems: check.problems,
      warnings: check.warnings,
    }
  })
  return {valid: results.every((r) => r.valid), results}
}

function invalidWhole(p: Problem): ValidateResult {
  return {valid: false, results: [{index: 0, line: 1, id: null, type: null, valid: false, problems: [p], warnings: []}]}
}

function parseChunk(chunk: {text: string; line: number}): {line: number; value?: unknown; error?: Problem} {
  try {
    return {line: chunk.line, value: JSON.parse(chunk.text)}
  } catch (error) {
    const why = error instanceof SyntaxError ? error.message : String(error)
    return {line: chunk.line, error: problem('$', 'not-json', `Not JSON (starting at line ${chunk.line}): ${why}.`)}
  }
}

/**
 * NDJSON when the first non-empty line is a whole JSON value by itself and more lines follow: then each line
 * stands alone, so one broken line cannot swallow the lines after it.
 */
function looksLikeNdjson(text: string): boolean {
  const lines = text.split('\n').filter((l) => l.trim() !== '')
  if (lines.length < 2) return false
  try {
    JSON.parse(lines[0])
    return true
  } catch {
    return false
  }
}

function splitLines(text: string): Array<{text: string; line: number}> {
  return text
    .split('\n')
    .map((t, i) => ({text: t.trim(), line: i + 1}))
    .filter((c) => c.text !== '')
}

/**
 * Splits text into top-level JSON values without parsing them: an object or array runs to its matching
 * bracket (strings and escapes respected), anything else to the end of its line. Linear, no recursion.
 */
export function splitJsonValues(text: string): Array<{text: string; line: number}> {
  const out: Array<{text: string; line: number}> = []
  let i = 0
  let line = 1
  const n = text.length
  while (i < n) {
    const c = text[i]
    if (c === '\n') {
      line++
      i++
      continue
    }
    if (c === ' ' || c === '\t' || c === '\r') {
      i++
      continue
    }
    const start = i
    const startLine = line
    if (c === '{' || c === '[') {
      let depth = 0
      let inString = false
      for (; i < n; i++) {
        const ch = text[i]
        if (ch === '\n') line++
        if (inString) {
          if (ch === '\\') i++
          else if (ch === '"') inString = false
        } else if (ch === '"') inString = true
        else if (ch === '{' || ch === '[') depth++
        else if (ch === '}' || ch === ']') {
          depth--
          if (depth === 0) {
            i++
            break
          }
        }
      }
    } else {
      while (i < n && text[i] !== '\n') i++
    }
    out.push({text: text.slice(start, i), line: startLine})
  }
  return out
}
