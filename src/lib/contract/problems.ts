/**
 * One thing wrong with a subject, envelope or payload (docs/contract.md: "problems carry a JSON path,
 * a stable code and a message"). Services report problems as values; they never throw for bad input.
 */
export interface Problem {
  /** Where: a JSON path (`$.data.task_id`, `$` for the whole message) or `subject` for the NATS subject. */
  path: string
  /** Stable kebab-case code that scripts may rely on (PROBLEM_CODES lists the ones dvctl emits). */
  code: string
  /** What is wrong, in words a person understands. */
  message: string
}

/**
 * Every problem code dvctl emits. Adding a code is fine; renaming one breaks scripts (docs/architecture.md, JSON results).
 */
export const PROBLEM_CODES = [
  // subjects
  'empty-subject',
  'missing-prefix',
  'empty-token',
  'bad-token',
  'wrong-token-count',
  'unknown-family',
  'unknown-service',
  'reserved-service',
  'unknown-task-verb',
  'wildcard-not-allowed',
  'bad-wildcard',
  'forbidden-subject',
  // envelopes
  'not-json',
  'bad-utf8',
  'not-object',
  'missing-field',
  'missing-correlation',
  'missing-causation',
  'bad-specversion',
  'bad-time',
  'bad-type',
  'bad-field',
  'bad-dataschema',
  'bad-datacontenttype',
  'data-not-object',
  'unknown-source',
  'type-mismatch',
  'task-subject-mismatch',
  'opaque-binary',
  'too-large',
  'unknown-field',
  // payloads
  'schema-violation',
  'unknown-schema-version',
  'no-schema',
  // task lifecycle
  'illegal-transition',
] as const

export type ProblemCode = (typeof PROBLEM_CODES)[number]

export function problem(path: string, code: ProblemCode, message: string): Problem {
  return {path, code, message}
}
