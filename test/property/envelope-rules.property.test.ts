// One envelope rule set (issue 14, item 4): the JSON Schema that `contract schemas --json-schema` exports
// and the validator that actually checks messages (validateEnvelope) must give the same verdict. Valid
// envelopes are generated from the contract (docs/contract.md); invalid ones are valid envelopes with one
// rule broken. The exported schema is checked with an independent JSON Schema validator (Ajv), not with
// zod, whose JSON Schema reader ignores some keywords (anyOf beside properties).
//
// Ajv here is version 6 (draft-07), the one in node_modules; the export is draft 2020-12. The first test
// proves the export uses only keywords whose meaning is the same in both drafts, so Ajv 6's verdict is a
// 2020-12 verdict.
import Ajv from 'ajv'
import fc from 'fast-check'
import {describe, expect, it} from 'vitest'

import {CROSS_FIELD_RULES, validateEnvelope} from '../../src/lib/contract/envelope.js'
import {PayloadRegistry} from '../../src/lib/contract/registry.js'
import {envelopeJsonSchema} from '../../src/lib/contract/schemas.js'
import {SERVICES, TASK_VERBS} from '../../src/lib/contract/services.js'

const RUNS = {numRuns: 400}

const exported = envelopeJsonSchema()
// Payload schemas are exported and checked on their own (`payloads`); the envelope rules are compared
// with none registered, so a random type never meets a payload schema.
const noPayloads = new PayloadRegistry()

/** Keywords with the same meaning in draft-07 and 2020-12 (plus annotations). */
const SHARED_KEYWORDS = new Set([
  '$schema',
  '$id',
  '$comment',
  'title',
  'description',
  'type',
  'properties',
  'required',
  'additionalProperties',
  'propertyNames',
  'const',
  'enum',
  'pattern',
  'minLength',
  'anyOf',
])

function keywordsOf(schema: unknown, into = new Set<string>()): Set<string> {
  if (typeof schema !== 'object' || schema === null) return into
  for (const [key, value] of Object.entries(schema)) {
    into.add(key)
    if (key === 'properties') for (const sub of Object.values(value as object)) keywordsOf(sub, into)
    else if (key === 'anyOf') for (const sub of value as unknown[]) keywordsOf(sub, into)
    else if (key === 'additionalProperties' || key === 'propertyNames') keywordsOf(value, into)
  }
  return into
}

const {$schema, ...draftNeutral} = exported
const ajv = new Ajv({allErrors: true})
const schemaAccepts = ajv.compile(draftNeutral)
const validatorAccepts = (envelope: unknown) => validateEnvelope(envelope, {registry: noPayloads}).valid

// --- generators --------------------------------------------------------------------------------------

const token = fc
  .tuple(
    fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz'),
    fc.string({unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789_'), maxLength: 8}),
  )
  .map(([a, b]) => a + b)
const id = fc.string({minLength: 1, maxLength: 24})
const service = fc.constantFrom(...SERVICES)
const verb = fc.oneof(fc.constantFrom(...TASK_VERBS), token)
const serviceType = fc
  .tuple(service, fc.array(token, {minLength: 2, maxLength: 4}))
  .map(([s, rest]) => [s, ...rest].join('.'))

/** A real UTC instant (years 0001-9999), written as RFC 3339 in one of its UTC spellings. */
const time = fc
  .tuple(
    fc.date({min: new Date('0001-01-01T00:00:00Z'), max: new Date('9999-12-31T23:59:59Z'), noInvalidDate: true}),
    fc.constantFrom('Z', 'z', '+00:00'),
    fc.constantFrom('T', 't'),
    fc.constantFrom('', '.5', '.123456789'),
  )
  .map(([d, zone, t, fraction]) => d.toISOString().slice(0, 19).replace('T', t) + fraction + zone)
/** Leap days and leap seconds: real, and easy to get wrong. */
const specialTime = fc.constantFrom('2024-02-29T12:00:00Z', '2000-02-29T00:00:00Z', '2016-12-31T23:59:60Z')

const optionalIds = fc.record(
  {tenant_id: id, project_id: id, environment_id: id, datacenter_id: id, causation_id: id},
  {requiredKeys: []},
)
const plainData = fc.dictionary(
  fc.string({maxLength: 10}),
  fc.oneof(fc.string({maxLength: 40}), fc.integer(), fc.boolean(), fc.constant(null)),
  {maxKeys: 4},
)
const extraFields = fc.dictionary(
  fc.string({minLength: 1, maxLength: 10}).filter((k) => !(k in (exported.properties as object))),
  fc.jsonValue({maxDepth: 2}),
  {maxKeys: 2},
)

/** An envelope that keeps every rule of the contract, the cross-field ones included. */
const validEnvelope = fc
  .record({
    base: fc.record({
      specversion: fc.constant('1.0'),
      id,
      source: service,
      time: fc.oneof(time, specialTime),
      actor: id,
      correlation_id: id,
    }),
    kind: fc.oneof(
      fc.record({task: fc.constant(true as const), verb, subject: id}),
      fc.record({task: fc.constant(false as const), type: serviceType, subject: fc.option(id, {nil: undefined})}),
    ),
    ids: optionalIds,
    contentType: fc.boolean(),
    version: fc.option(fc.integer({min: 1, max: 30}), {nil: undefined}),
    data: plainData,
    extra: extraFields,
  })
  .map(({base, kind, ids, contentType, version, data, extra}) => {
    const type = kind.task ? `task.${kind.verb}` : kind.type
    const envelope: Record<string, unknown> = {...extra, ...base, type, ...ids}
    if (kind.subject !== undefined) envelope.subject = kind.subject
    if (contentType) envelope.datacontenttype = 'application/json'
    if (version !== undefined) envelope.dataschema = `${type}/v${version}`
    // A task event's data says which task and state it reports (and why, when it failed).
    envelope.data = kind.task
      ? {
          ...data,
          task_id: kind.subject,
          state: kind.verb,
          ...(kind.verb === 'failed' ? {error: {code: 'boom', message: 'it broke', retryable: false}} : {}),
        }
      : data
    if (envelope.causation_id === envelope.id) delete envelope.causation_id
    return envelope
  })

const notAString = fc.oneof(fc.constant(null), fc.integer(), fc.boolean(), fc.constant([]), fc.constant({}))

/** Type strings that break `<service>.<entity>.<...>` / `task.<verb>` (built from the rule, not the regex). */
const badType = fc.oneof(
  token
    .filter((t) => !(SERVICES as readonly string[]).includes(t) && t !== 'task')
    .chain((head) => fc.array(token, {minLength: 2, maxLength: 3}).map((rest) => [head, ...rest].join('.'))), // unknown service (`foo.bar.baz`)
  fc
    .tuple(fc.oneof(service, token), token)
    .map(([a, b]) => `${a}.${b}`)
    .filter((t) => !t.startsWith('task.')), // two tokens
  fc.tuple(verb, token).map(([v, more]) => `task.${v}.${more}`), // task with more than a verb
  serviceType.map((t) => t.toUpperCase()),
  serviceType.map((t) => `${t}.`),
  serviceType.map((t) => t.replace('.', '..')),
  serviceType.map((t) => ` ${t}`),
  fc.constantFrom('task', 'task.', 'maskin', '', 'foo.bar', 'maskin.Server.x', 'maskin.server.1x', 'maskin.server.x\n'),
  notAString,
)

const badTime = fc.oneof(
  fc.constantFrom(
    '2026-03-14T10:30:00+01:00', // not UTC
    '2026-03-14T10:30:00-00:00',
    '2026-03-14 10:30:00Z', // space instead of T
    '2026-03-14T10:30Z', // no seconds
    '2026-03-14',
    '2026-02-29T00:00:00Z', // not a leap year
    '1900-02-29T00:00:00Z',
    '2026-02-30T00:00:00Z',
    '2026-04-31T00:00:00Z',
    '2026-13-01T00:00:00Z',
    '2026-00-10T00:00:00Z',
    '2026-01-00T00:00:00Z',
    '2026-01-01T24:00:00Z',
    '2026-01-01T23:60:00Z',
    '2026-01-01T23:59:61Z',
    '2026-01-01T23:59:59.Z',
    '2026-01-01T23:59:59Z\n',
    '',
  ),
  fc.integer().map((n) => new Date(Math.abs(n) * 1000).toISOString().replace('Z', '+02:00')),
  notAString,
)

/** One rule JSON Schema can express, broken: the envelope is invalid by the contract. */
interface Mutation {
  what: string
  apply: (envelope: Record<string, unknown>) => void
}
/** Sets (or, for undefined, removes) one field. */
const setField = (field: string, value: unknown, what = `${field} ${JSON.stringify(value)}`): Mutation => ({
  what,
  apply: (e) => {
    if (value === undefined) delete e[field]
    else e[field] = value
  },
})

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc
    .constantFrom('specversion', 'id', 'type', 'source', 'time', 'actor', 'correlation_id', 'data')
    .map((f) => setField(f, undefined, `no ${f}`)),
  fc.oneof(fc.constantFrom('2.0', '1', '1.0 ', ''), fc.constant(1), notAString).map((v) => setField('specversion', v)),
  fc
    .tuple(
      fc.constantFrom(
        'id',
        'actor',
        'correlation_id',
        'subject',
        'tenant_id',
        'project_id',
        'environment_id',
        'datacenter_id',
        'causation_id',
      ),
      fc.oneof(fc.constant(''), notAString),
    )
    .map(([f, v]) => setField(f, v)),
  badType.map((v) => setField('type', v)),
  fc
    .oneof(
      token.filter((s) => !(SERVICES as readonly string[]).includes(s)),
      fc.constantFrom('Maskin', 'task', 'rpc', ''),
      notAString,
    )
    .map((v) => setField('source', v)),
  badTime.map((v) => setField('time', v)),
  fc
    .oneof(fc.constantFrom('text/plain', 'application/JSON', ''), notAString)
    .map((v) => setField('datacontenttype', v)),
  fc
    .oneof(
      fc.constantFrom('v1', '/v1', 'maskin.server.provisioned/v0', 'maskin.server.provisioned/1', 'x/v1'),
      notAString,
    )
    .map((v) => setField('dataschema', v)),
  fc
    .oneof(fc.constant(null), fc.integer(), fc.string({maxLength: 5}), fc.array(fc.integer(), {maxLength: 3}))
    .map((v) => setField('data', v)),
  fc.constant<Mutation>({
    what: 'task event without subject',
    apply: (e) => {
      e.type = 'task.started'
      delete e.subject
      e.data = {}
      delete e.dataschema
    },
  }),
)

describe('the exported envelope JSON Schema and validateEnvelope are one rule set', () => {
  it('exports only keywords that mean the same in draft-07 and 2020-12, and names the rules beyond it', () => {
    expect($schema).toBe('https://json-schema.org/draft/2020-12/schema')
    expect([...keywordsOf(exported)].filter((k) => !SHARED_KEYWORDS.has(k))).toEqual([])
    for (const rule of CROSS_FIELD_RULES) expect(exported.$comment).toContain(rule)
  })

  it('both accept every envelope that keeps the contract', () => {
    fc.assert(
      fc.property(validEnvelope, (envelope) => {
        const json = JSON.parse(JSON.stringify(envelope))
        expect(validateEnvelope(json, {registry: noPayloads}).problems).toEqual([])
        expect(schemaAccepts(json), JSON.stringify(schemaAccepts.errors)).toBe(true)
      }),
      RUNS,
    )
  })

  it('both reject an envelope with one rule broken', () => {
    fc.assert(
      fc.property(validEnvelope, mutation, (envelope, {what, apply}) => {
        const json = JSON.parse(JSON.stringify(envelope))
        apply(json)
        expect(validatorAccepts(json), `validator accepted: ${what}`).toBe(false)
        expect(schemaAccepts(json), `schema accepted: ${what}`).toBe(false)
      }),
      RUNS,
    )
  })

  it('both reject "type": "foo.bar", which the export used to accept', () => {
    const envelope = {
      specversion: '1.0',
      id: 'a',
      type: 'foo.bar',
      source: 'sentral',
      time: '2026-03-14T09:30:00Z',
      actor: 'ops',
      correlation_id: 'c',
      data: {},
    }
    expect(validateEnvelope(envelope, {registry: noPayloads}).problems.map((p) => p.code)).toEqual(['bad-type'])
    expect(schemaAccepts(envelope)).toBe(false)
    expect(schemaAccepts({...envelope, type: 'sentral.thing.happened'})).toBe(true)
  })
})
