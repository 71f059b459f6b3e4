import {isUtf8} from 'node:buffer'
import {randomUUID} from 'node:crypto'
import {TextDecoder} from 'node:util'

import {z} from 'zod'

import {TaskEventData} from './lifecycle.js'
import {problem, type Problem, type ProblemCode} from './problems.js'
import {DATASCHEMA, defaultPayloadRegistry, parseDataschema, type PayloadRegistry} from './registry.js'
import {isService, isTaskVerb, SERVICES, TASK_VERBS} from './services.js'
import {MESSAGE_TYPE, parseSubject, TOKEN_SOURCE, type SubjectAnalysis} from './taxonomy.js'

/**
 * The standard message envelope (ADR "Standard message envelope", docs/contract.md): one rule set.
 *
 * The zod schema below is the rule for everything JSON Schema can say (`contract schemas --json-schema`
 * exports it), and `validateEnvelope` checks with the very same patterns and field lists, adding its own
 * stable code and JSON path to each violation (cheaply enough for stream readers). What JSON Schema
 * cannot say (comparisons between fields, opaque binary, size) is checked by `validateEnvelope` only, and
 * listed in CROSS_FIELD_RULES, which the export carries as its `$comment`. A property test
 * (test/property/envelope-rules.property.test.ts) holds the export and the validator to the same verdicts.
 */

/**
 * A message type: `<service>.<entity>.<...>` (a known service and at least two more tokens) or
 * `task.<verb>` (any verb token; a verb outside the minimum set is a warning, an error under --strict).
 */
export const ENVELOPE_TYPE = new RegExp(
  `^(?:(?:${SERVICES.join('|')})(?:\\.${TOKEN_SOURCE}){2,}|task\\.${TOKEN_SOURCE})$`,
)

/** RFC 3339 in UTC (`Z` or `+00:00`), a real calendar date (leap years included) and time (leap second 60). */
const LEAP_YEAR = '(?:\\d{2}(?:0[48]|[2468][048]|[13579][26])|(?:[02468][048]|[13579][26])00)'
const DATE =
  '(?:\\d{4}-(?:(?:0[13578]|1[02])-(?:0[1-9]|[12]\\d|3[01])|(?:0[469]|11)-(?:0[1-9]|[12]\\d|30)|02-(?:0[1-9]|1\\d|2[0-8]))' +
  `|${LEAP_YEAR}-02-29)`
export const ENVELOPE_TIME = new RegExp(
  `^${DATE}[Tt](?:[01]\\d|2[0-3]):[0-5]\\d:(?:[0-5]\\d|60)(?:\\.\\d+)?(?:[Zz]|\\+00:00)$`,
)
/** Only to say why a time failed ENVELOPE_TIME: the shape of RFC 3339 in UTC, and in any offset. */
const RFC3339_UTC_SHAPE = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|\+00:00)$/
const RFC3339_ANY = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/

/** The envelope rules JSON Schema cannot express; `validateEnvelope` enforces them too. */
export const CROSS_FIELD_RULES = [
  'causation_id must differ from id.',
  "dataschema's type must be the message type.",
  'Task events: data.task_id, when present, equals the envelope subject; data.state, when present, equals the verb of type.',
  'No string in data may be a base64 value longer than 4096 characters (opaque binary).',
  'data must satisfy the payload schema registered for its type and version (see payloads).',
  "A message over the server's max_payload is refused; on a known NATS subject, the subject rules apply too.",
] as const

const nonEmpty = z.string().min(1)

export const Envelope = z
  .looseObject({
    specversion: z.literal('1.0').describe('Envelope version.'),
    id: nonEmpty.describe('Unique message id (Nats-Msg-Id on publish).'),
    type: z
      .string()
      .regex(ENVELOPE_TYPE)
      .describe('Logical message type: <service>.<entity>.<...> (a known service), or task.<verb>.'),
    source: z.enum(SERVICES).describe('Emitting service.'),
    subject: nonEmpty
      .optional()
      .describe('Resource identifier within the emitting domain; the task id on task events.'),
    time: z.string().regex(ENVELOPE_TIME).describe('RFC 3339 timestamp in UTC.'),
    datacontenttype: z.literal('application/json').optional(),
    dataschema: z.string().regex(DATASCHEMA).optional().describe('<type>/v<N>; absent means v1.'),
    tenant_id: nonEmpty.optional(),
    project_id: nonEmpty.optional(),
    environment_id: nonEmpty.optional(),
    datacenter_id: nonEmpty.optional(),
    actor: nonEmpty.describe('Identity that initiated the action.'),
    correlation_id: nonEmpty.describe('Stable id shared across a workflow.'),
    causation_id: nonEmpty
      .optional()
      .describe('Id of the message that triggered this one; absent only on a workflow root.'),
    data: z.record(z.string(), z.unknown()).describe('The payload: a JSON object.'),
  })
  // Task events carry the task id as the envelope subject: a refinement here; in JSON Schema "a subject, or a
  // type that is not task.*" (anyOf rather than if/then, which zod's own JSON Schema reader refuses).
  .refine((e) => !e.type.startsWith('task.') || e.subject !== undefined, {
    path: ['subject'],
    message: 'Task events carry the task id as the envelope subject.',
  })
  .meta({
    anyOf: [{required: ['subject']}, {properties: {type: {pattern: '^(?!task\\.)'}}}],
    $comment: `Also checked by dvctl, beyond this schema: ${CROSS_FIELD_RULES.join(' ')}`,
  })
export type Envelope = z.infer<typeof Envelope>

/** Top-level fields the envelope defines; anything else is allowed but reported under strict. */
export const ENVELOPE_FIELDS = new Set(Object.keys(Envelope.shape))

/** The fields the schema requires, and the optional identifiers (non-empty strings when present). */
const REQUIRED = Object.entries(Envelope.shape)
  .filter(([, schema]) => !(schema instanceof z.ZodOptional))
  .map(([key]) => key)
const OPTIONAL_IDS = ['subject', 'tenant_id', 'project_id', 'environment_id', 'datacenter_id', 'causation_id'] as const

/** Strings above this many characters that decode as base64 are opaque binary (docs/contract.md). */
export const OPAQUE_BINARY_LIMIT = 4096

/**
 * A payload nested deeper than this is not checked against a team's schema. Those come from JSON Schema and
 * may recurse through `$ref`; zod checks them level by level by recursion, and a hostile payload would run the
 * stack out (at about 1,600 levels for a simple tree), which is fatal when it happens while V8 compiles the
 * schema's `pattern`. The built-in schemas never descend into free-form values.
 */
export const MAX_TEAM_SCHEMA_DEPTH = 256
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/
const BASE64URL = /^[A-Za-z0-9_-]+={0,2}$/

export interface ValidateEnvelopeOptions {
  /** The NATS subject the message was (or will be) published on; enables the subject and family checks. */
  subject?: string
  /** `--strict`: unknown task verbs are errors; unknown fields are reported as warnings. */
  strict?: boolean
  /** Payload schemas; the built-in registry when absent. */
  registry?: PayloadRegistry
  /** The server's max_payload in bytes: a bigger message is refused. */
  maxPayload?: number
  /** The encoded size in bytes when the caller already knows it (saves serialising again). */
  size?: number
  /**
   * Also report, as warnings, two rules a single message cannot always be held to (`contract audit` counts
   * them): `missing-causation`, an event or task event without causation_id that does not open its own
   * workflow (its correlation_id is not its id), and `no-schema`, a type with no payload schema registered,
   * so its payload is unversioned and unchecked.
   */
  advisory?: boolean
}

export interface EnvelopeValidation {
  valid: boolean
  problems: Problem[]
  warnings: Problem[]
}

/**
 * The problems and warnings of one check. Methods, not closures made per call: the bundle keeps function names
 * (esbuild keepNames), which costs a property definition for every closure created, i.e. per message read.
 */
class Findings {
  readonly problems: Problem[] = []
  readonly warnings: Problem[] = []

  /** A broken rule. */
  add(path: string, code: ProblemCode, message: string): void {
    this.problems.push(problem(path, code, message))
  }

  /** Suspicious but allowed. */
  note(path: string, code: ProblemCode, message: string): void {
    this.warnings.push(problem(path, code, message))
  }
}

/**
 * Checks a parsed message against every envelope and payload rule of docs/contract.md. Never throws:
 * each violation is a problem with a JSON path and a stable code; suspicious but allowed things are warnings.
 */
export function validateEnvelope(
  value: unknown,
  opts: ValidateEnvelopeOptions = {},
  /** opts.size, given apart so that a stream reader need not copy its options per message. */
  size: number | undefined = opts.size,
): EnvelopeValidation {
  const found = new Findings()

  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    found.add('$', 'not-object', `A message must be a JSON object (the envelope); got ${describe(value)}.`)
    return {valid: false, problems: found.problems, warnings: found.warnings}
  }
  const env = value as Record<string, unknown>

  for (const field of REQUIRED) {
    if (env[field] !== undefined) continue
    if (field === 'correlation_id') {
      found.add(
        '$.correlation_id',
        'missing-correlation',
        'correlation_id is missing; workflow correlation is mandatory (ADR "Reliability model").',
      )
    } else {
      found.add(`$.${field}`, 'missing-field', `Required envelope field "${field}" is missing.`)
    }
  }

  if (env.specversion !== undefined && env.specversion !== '1.0') {
    found.add('$.specversion', 'bad-specversion', `specversion must be "1.0"; got ${describe(env.specversion)}.`)
  }
  for (const field of ['id', 'actor'] as const) {
    if (env[field] !== undefined && !isNonEmptyString(env[field])) {
      found.add(`$.${field}`, 'bad-field', `${field} must be a non-empty string; got ${describe(env[field])}.`)
    }
  }
  if (env.correlation_id !== undefined && !isNonEmptyString(env.correlation_id)) {
    found.add(
      '$.correlation_id',
      'missing-correlation',
      `correlation_id must be a non-empty string; got ${describe(env.correlation_id)}.`,
    )
  }
  for (const field of OPTIONAL_IDS) {
    if (env[field] !== undefined && !isNonEmptyString(env[field])) {
      found.add(
        `$.${field}`,
        'bad-field',
        `${field} must be a non-empty string when present; got ${describe(env[field])}.`,
      )
    }
  }
  if (isNonEmptyString(env.causation_id) && env.causation_id === env.id) {
    found.add('$.causation_id', 'bad-field', 'causation_id equals the message id; a message cannot cause itself.')
  }

  if (env.source !== undefined) {
    if (typeof env.source !== 'string' || !isService(env.source)) {
      found.add(
        '$.source',
        'unknown-source',
        `source must be a Dataverket service (${SERVICES.join(', ')}); got ${describe(env.source)}.`,
      )
    }
  }

  if (env.time !== undefined) checkTime(env.time, found)

  if (env.datacontenttype !== undefined && env.datacontenttype !== 'application/json') {
    found.add(
      '$.datacontenttype',
      'bad-datacontenttype',
      `datacontenttype must be "application/json" when present; got ${describe(env.datacontenttype)}.`,
    )
  }

  // type: <service>.<entity>.<...> or task.<verb>
  let type: string | undefined
  let isTask = false
  let typeValid = false
  if (env.type !== undefined) {
    const analysis = typeof env.type === 'string' ? typeAnalysis(env.type) : undefined
    if (!analysis) {
      found.add(
        '$.type',
        'bad-type',
        `type must be dot-separated lower-case tokens such as "maskin.server.provisioned"; got ${describe(env.type)}.`,
      )
    } else {
      type = env.type as string
      const {head, second} = analysis
      isTask = analysis.isTask
      typeValid = analysis.valid
      if (!typeValid) {
        found.add(
          '$.type',
          'bad-type',
          isTask
            ? `Task event types are "task.<verb>"; got "${type}".`
            : !isService(head)
              ? `type must start with a service (${SERVICES.join(', ')}) or "task"; got "${type}".`
              : `type is "<service>.<entity>.<...>", at least three tokens; got "${type}".`,
        )
      } else if (isTask && !isTaskVerb(second)) {
        const message = `"${second}" is not one of the task verbs (${TASK_VERBS.join(', ')}).`
        if (opts.strict) found.add('$.type', 'unknown-task-verb', message)
        else found.note('$.type', 'unknown-task-verb', message)
      }
    }
  }

  // dataschema: <type>/v<N>, and its type must be this message's type
  let version = 1
  if (env.dataschema !== undefined) {
    const parsed = typeof env.dataschema === 'string' ? parseDataschema(env.dataschema) : undefined
    if (!parsed) {
      found.add(
        '$.dataschema',
        'bad-dataschema',
        `dataschema must be "<type>/v<N>" (for example "maskin.server.provisioned/v2"); got ${describe(env.dataschema)}.`,
      )
    } else if (type !== undefined && parsed.type !== type) {
      found.add(
        '$.dataschema',
        'bad-dataschema',
        `dataschema names type "${parsed.type}" but the message type is "${type}".`,
      )
    } else {
      version = parsed.version
    }
  }

  // The NATS subject, when known: its own validity, then its family and service against the envelope.
  if (opts.subject !== undefined) {
    const analysis = subjectAnalysis(opts.subject, opts.strict === true)
    if (analysis.problems.length) found.problems.push(...analysis.problems)
    if (analysis.warnings.length) found.warnings.push(...analysis.warnings)
    if (analysis.valid && type !== undefined) {
      const head = type.slice(0, type.indexOf('.'))
      if (analysis.family === 'task') {
        if (!isTask) {
          found.add(
            '$.type',
            'type-mismatch',
            `Messages on ${opts.subject} are task events; their type is "task.<verb>", not "${type}".`,
          )
        } else if (analysis.verb !== undefined && type !== `task.${analysis.verb}`) {
          found.add(
            '$.type',
            'type-mismatch',
            `type "${type}" does not match the subject's verb; expected "task.${analysis.verb}".`,
          )
        }
      } else if (isTask) {
        found.add(
          '$.type',
          'type-mismatch',
          `Task events ("${type}") belong on dv.task.evt.<verb>, not on ${opts.subject}.`,
        )
      } else if (analysis.service !== null && head !== analysis.service) {
        found.note(
          '$.type',
          'type-mismatch',
          `type "${type}" starts with "${head}" but the subject belongs to service "${analysis.service}".`,
        )
      }
    }
  }

  // data: a JSON object, free of opaque binary, valid against its registered schema.
  const data = env.data
  const dataIsObject = typeof data === 'object' && data !== null && !Array.isArray(data)
  if (data !== undefined && !dataIsObject) {
    found.add('$.data', 'data-not-object', `data must be a JSON object (ADR "Payload rules"); got ${describe(data)}.`)
  }
  if (dataIsObject) {
    // A message no bigger than the limit cannot hold a string longer than it (JSON escapes and UTF-8 only
    // add bytes), so stream readers skip the walk for ordinary messages.
    if (size === undefined || size > OPAQUE_BINARY_LIMIT) findOpaqueBinary(data, found)
    if (isTask) checkTaskEvent(env, type!, data as Record<string, unknown>, found)
    if (type !== undefined) checkPayload(type, version, data, opts, found, isTask)
  }

  if (opts.advisory) checkAdvisory(env, typeValid ? type : undefined, isTask, opts, found)

  if (opts.maxPayload !== undefined) {
    const bytes = size ?? encodedSize(value)
    if (bytes !== undefined && bytes > opts.maxPayload) {
      found.add(
        '$',
        'too-large',
        `The message is ${bytes} bytes; the server accepts at most ${opts.maxPayload} (max_payload). Store large artifacts elsewhere and send a reference.`,
      )
    }
  }

  if (opts.strict) {
    for (const key of Object.keys(env)) {
      if (!ENVELOPE_FIELDS.has(key))
        found.note(jsonPath(['$'], key), 'unknown-field', `"${key}" is not an envelope field; consumers ignore it.`)
    }
  }

  return {valid: found.problems.length === 0, problems: found.problems, warnings: found.warnings}
}

/** What the checks read of a well-formed type (MESSAGE_TYPE): its first two tokens, and whether ENVELOPE_TYPE passes. */
interface TypeAnalysis {
  valid: boolean
  isTask: boolean
  head: string
  second: string
}

/** Types analysed so far (well-formed ones), by type; bounded. A stream holds a few types many times over. */
const knownTypes = new Map<string, TypeAnalysis>()
const MAX_KNOWN_TYPES = 10_000

/**
 * A type's analysis, or undefined when it is not well-formed (MESSAGE_TYPE): the regexes run once per distinct
 * type, not once per message. A pure function of the string, so remembering it changes no verdict.
 */
function typeAnalysis(type: string): TypeAnalysis | undefined {
  const known = knownTypes.get(type)
  if (known) return known
  if (!MESSAGE_TYPE.test(type)) return undefined
  // Its first two tokens (a well-formed type has at least two), without splitting the whole type.
  const dot = type.indexOf('.')
  const head = type.slice(0, dot)
  const next = type.indexOf('.', dot + 1)
  const second = type.slice(dot + 1, next < 0 ? undefined : next)
  const analysis: TypeAnalysis = Object.freeze({valid: ENVELOPE_TYPE.test(type), isTask: head === 'task', head, second})
  if (knownTypes.size < MAX_KNOWN_TYPES) knownTypes.set(type, analysis)
  return analysis
}

/** Clean subjects (no problems, no warnings) analysed so far, lenient and strict, by subject; bounded. */
const cleanSubjects = [new Map<string, SubjectAnalysis>(), new Map<string, SubjectAnalysis>()] as const
const MAX_CLEAN_SUBJECTS = 10_000

/**
 * parseSubject, remembered for subjects it finds clean: a stream holds a few subjects many times over, and the
 * analysis is a pure function of the subject and strictness. Only clean analyses are kept, so no Problem object
 * is ever shared between two results; a subject with findings is analysed afresh each time.
 */
function subjectAnalysis(subject: string, strict: boolean): SubjectAnalysis {
  const known = cleanSubjects[strict ? 1 : 0]
  const clean = known.get(subject)
  if (clean) return clean
  const analysis = parseSubject(subject, {strict})
  if (analysis.valid && analysis.problems.length === 0 && analysis.warnings.length === 0) {
    if (known.size < MAX_CLEAN_SUBJECTS) known.set(subject, Object.freeze(analysis))
  }
  return analysis
}

/**
 * The advisory rules (ValidateEnvelopeOptions.advisory). causation_id is absent only on a workflow's first
 * message (docs/contract.md): a command may open a workflow whose correlation_id came from elsewhere (the
 * HTTP API), but an event or a task event reports what a command or an earlier message set off, so it names
 * its cause unless it opens a workflow of its own (correlation_id = id). Payload schemas must be versioned
 * (ADR "Payload rules"): a type with no registered schema has neither version nor check.
 */
function checkAdvisory(
  env: Record<string, unknown>,
  /** The type when it passes ENVELOPE_TYPE. */
  type: string | undefined,
  isTask: boolean,
  opts: ValidateEnvelopeOptions,
  found: Findings,
) {
  // dv.<service>.evt.<entity>.<verb> and dv.task.evt.<verb>: the third token says "event".
  const reports = isTask || (opts.subject !== undefined && thirdToken(opts.subject) === 'evt')
  if (reports && env.causation_id === undefined && env.correlation_id !== env.id) {
    found.note(
      '$.causation_id',
      'missing-causation',
      `causation_id is missing on ${isTask ? 'a task event' : 'an event'} that does not open its own workflow (correlation_id is not its id).`,
    )
  }
  if (type !== undefined && !isTask) {
    const registry = opts.registry ?? defaultPayloadRegistry()
    if (!registry.hasType(type)) {
      found.note(
        '$.type',
        'no-schema',
        `No payload schema is registered for type ${type}; the payload is unversioned and unchecked.`,
      )
    }
  }
}

/** `subject.split('.')[2]`, without the array. */
function thirdToken(subject: string): string | undefined {
  const first = subject.indexOf('.')
  const second = first < 0 ? -1 : subject.indexOf('.', first + 1)
  if (second < 0) return undefined
  const third = subject.indexOf('.', second + 1)
  return subject.slice(second + 1, third < 0 ? undefined : third)
}

function checkTime(time: unknown, found: Findings) {
  if (typeof time !== 'string') {
    found.add('$.time', 'bad-time', `time must be an RFC 3339 string in UTC; got ${describe(time)}.`)
    return
  }
  // ENVELOPE_TIME decides; the shapes only say why.
  if (ENVELOPE_TIME.test(time)) return
  if (RFC3339_UTC_SHAPE.test(time)) {
    found.add('$.time', 'bad-time', `time "${time}" is not a real date and time.`)
    return
  }
  const why = RFC3339_ANY.test(time)
    ? 'it is not in UTC (use "Z" or "+00:00")'
    : 'it is not RFC 3339 (like 2026-03-14T09:30:00Z)'
  found.add('$.time', 'bad-time', `time "${time}" is invalid: ${why}.`)
}

function checkTaskEvent(env: Record<string, unknown>, type: string, data: Record<string, unknown>, found: Findings) {
  if (env.subject === undefined) {
    found.add(
      '$.subject',
      'missing-field',
      'Task events carry the task id as the envelope subject; "subject" is missing.',
    )
  } else if (typeof data.task_id === 'string' && typeof env.subject === 'string' && data.task_id !== env.subject) {
    found.add(
      '$.data.task_id',
      'task-subject-mismatch',
      `data.task_id "${data.task_id}" differs from the envelope subject "${env.subject}" (the task id).`,
    )
  }
  const verb = type.split('.')[1]
  if (typeof data.state === 'string' && verb !== undefined && data.state !== verb) {
    found.add('$.data.state', 'type-mismatch', `data.state "${data.state}" differs from the type's verb "${verb}".`)
  }
}

function checkPayload(
  type: string,
  version: number,
  data: object,
  opts: ValidateEnvelopeOptions,
  found: Findings,
  isTask: boolean,
) {
  const registry = opts.registry ?? defaultPayloadRegistry()
  const entry = registry.get(type, version)
  let schema = entry?.schema
  if (!schema) {
    const known = registry.versions(type)
    if (known.length > 0) {
      found.note(
        '$.dataschema',
        'unknown-schema-version',
        `No schema for ${type}/v${version} (known: ${known.map((v) => `v${v}`).join(', ')}); the payload was not checked.`,
      )
      return
    }
    // Task events with a verb outside the minimum set still carry task data.
    if (!isTask) return
    schema = TaskEventData
  }
  if (entry?.jsonSchema && nestedDeeperThan(data, MAX_TEAM_SCHEMA_DEPTH)) {
    found.add(
      '$.data',
      'schema-violation',
      `The payload is nested deeper than ${MAX_TEAM_SCHEMA_DEPTH} levels; it was not checked against ${type}/v${version}.`,
    )
    return
  }
  let result: ReturnType<z.ZodType['safeParse']>
  try {
    result = schema.safeParse(data)
  } catch (error) {
    found.add(
      '$.data',
      'schema-violation',
      `The payload could not be checked against ${type}/v${version}: ${(error as Error).message}.`,
    )
    return
  }
  if (!result.success) {
    for (const issue of result.error.issues) {
      found.add(
        jsonPath(['$', 'data'], ...issue.path),
        'schema-violation',
        `${issue.message} (schema ${type}/v${version}).`,
      )
    }
  }
  if (opts.strict) {
    const shape = objectShape(schema)
    if (shape) {
      for (const key of Object.keys(data)) {
        if (!(key in shape))
          found.note(
            jsonPath(['$', 'data'], key),
            'unknown-field',
            `"${key}" is not in schema ${type}/v${version}; consumers ignore it.`,
          )
      }
    }
  }
}

function objectShape(schema: z.ZodType): Record<string, unknown> | undefined {
  // A refined object (TaskEventData) is still a ZodObject in zod 4; anything else has no fixed key set.
  return schema instanceof z.ZodObject ? (schema.shape as Record<string, unknown>) : undefined
}

/**
 * Walks data without recursion (a hostile message may nest deeply) looking for long strings that decode as
 * base64: the ADR forbids embedding opaque binary blobs.
 */
function findOpaqueBinary(data: object, found: Findings) {
  // Each node links to its parent so that a path is only built for a finding (copying paths would be
  // quadratic in the depth).
  interface Node {
    value: unknown
    key: string | number
    parent: Node | undefined
  }
  const stack: Node[] = [{value: data, key: 'data', parent: undefined}]
  let visited = 0
  while (stack.length > 0 && visited++ < 1_000_000) {
    const node = stack.pop()!
    const value = node.value
    if (typeof value === 'string') {
      if (value.length > OPAQUE_BINARY_LIMIT && looksLikeBase64(value)) {
        const keys: Array<string | number> = []
        for (let n: Node | undefined = node; n; n = n.parent) keys.push(n.key)
        found.add(
          jsonPath('$', keys.reverse()),
          'opaque-binary',
          `A ${value.length}-character base64 string: opaque binary must not be embedded in payloads; store it elsewhere and reference it by URI or object id.`,
        )
      }
    } else if (Array.isArray(value)) {
      for (let i = value.length - 1; i >= 0; i--) stack.push({value: value[i], key: i, parent: node})
    } else if (typeof value === 'object' && value !== null) {
      for (const k of Object.keys(value))
        stack.push({value: (value as Record<string, unknown>)[k], key: k, parent: node})
    }
  }
}

/** Whether objects and arrays nest more than `limit` levels below `data`, walked without recursion. */
export function nestedDeeperThan(data: object, limit: number): boolean {
  const stack: Array<[unknown, number]> = [[data, 0]]
  while (stack.length > 0) {
    const [value, depth] = stack.pop()!
    if (typeof value !== 'object' || value === null) continue
    if (depth > limit) return true
    for (const child of Array.isArray(value) ? value : Object.values(value)) stack.push([child, depth + 1])
  }
  return false
}

function looksLikeBase64(value: string): boolean {
  const compact = value.includes('\n') || value.includes('\r') ? value.replace(/[\r\n]/g, '') : value
  const body = compact.replace(/=+$/, '')
  if (body.length % 4 === 1) return false
  return BASE64.test(compact) || BASE64URL.test(compact)
}

function encodedSize(value: unknown): number | undefined {
  try {
    return Buffer.byteLength(JSON.stringify(value))
  } catch {
    return undefined
  }
}

/** `$.data.items[0]["odd key"]` from path segments. */
export function jsonPath(...segments: Array<string | number | symbol | Array<string | number>>): string {
  const flat = segments.flat() as Array<string | number | symbol>
  let out = ''
  for (const s of flat) {
    if (typeof s === 'number') out += `[${s}]`
    else if (typeof s === 'symbol') out += `[${String(s)}]`
    else if (out === '' && s === '$') out = '$'
    else if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(s)) out += `.${s}`
    else out += `[${JSON.stringify(s)}]`
  }
  return out || '$'
}

function isNonEmptyString(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0
}

function describe(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'an array'
  if (typeof value === 'string') return value.length > 60 ? `a string ("${value.slice(0, 57)}...")` : `"${value}"`
  if (typeof value === 'object') return 'an object'
  return `${typeof value} ${String(value)}`
}

export type DecodedMessage =
  | {ok: true; envelope: Envelope; warnings: Problem[]}
  | {ok: false; problems: Problem[]; warnings: Problem[]; raw: string; value?: unknown}

let utf8: TextDecoder | undefined

/**
 * Decodes one message body for stream readers (tail, workflow, dlq): invalid UTF-8, non-JSON, non-objects
 * and envelope violations all come back as problems with the raw text, never as a throw.
 */
export function decodeMessage(bytes: Uint8Array, opts: Omit<ValidateEnvelopeOptions, 'size'> = {}): DecodedMessage {
  // isUtf8 (simdutf) plus the lenient decoder is several times faster than a fatal TextDecoder.
  utf8 ??= new TextDecoder('utf-8')
  const text = utf8.decode(bytes)
  if (!isUtf8(bytes)) {
    return {
      ok: false,
      problems: [problem('$', 'bad-utf8', 'The message body is not valid UTF-8, so it cannot be a JSON envelope.')],
      warnings: [],
      raw: text,
    }
  }
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (error) {
    const why = error instanceof SyntaxError ? error.message : String(error)
    const message = text.trim() === '' ? 'The message body is empty.' : `The message body is not JSON: ${why}.`
    return {ok: false, problems: [problem('$', 'not-json', message)], warnings: [], raw: text}
  }
  const check = validateEnvelope(value, opts, bytes.byteLength)
  if (check.valid) return {ok: true, envelope: value as Envelope, warnings: check.warnings}
  return {ok: false, problems: check.problems, warnings: check.warnings, raw: text, value}
}

export type NewEnvelopeFields = Pick<Envelope, 'type' | 'source' | 'actor' | 'correlation_id' | 'data'> &
  Partial<
    Pick<
      Envelope,
      | 'id'
      | 'time'
      | 'subject'
      | 'datacontenttype'
      | 'dataschema'
      | 'tenant_id'
      | 'project_id'
      | 'environment_id'
      | 'datacenter_id'
      | 'causation_id'
    >
  >

/**
 * A new envelope for publishers: fills `specversion`, `id` (a UUID), `time` (now, UTC) and
 * `datacontenttype`, keeping the fields in the ADR's order so that messages read the same everywhere.
 */
export function newEnvelope(fields: NewEnvelopeFields): Envelope {
  const {id, time, type, source, subject, datacontenttype, dataschema, data, ...rest} = fields
  const envelope: Record<string, unknown> = {specversion: '1.0', id: id ?? randomUUID(), type, source}
  if (subject !== undefined) envelope.subject = subject
  envelope.time = time ?? new Date().toISOString()
  envelope.datacontenttype = datacontenttype ?? 'application/json'
  if (dataschema !== undefined) envelope.dataschema = dataschema
  for (const [key, value] of Object.entries(rest)) if (value !== undefined) envelope[key] = value
  envelope.data = data
  return envelope as Envelope
}
