// Bad input against the pure functions that every stream reader and every file loader goes through
// (issue 9, item 3): random bytes, invalid UTF-8, huge and deeply nested JSON, envelopes with every field
// wrong, random layout and config documents. The property is always the same: never a throw (or, for the
// loaders, only a UserError with exit 2), and a bad input always yields problems, never a silent "valid".
import fc from 'fast-check'
import {describe, expect, it} from 'vitest'

import {decodeMessage, newEnvelope, validateEnvelope} from '../../src/lib/contract/envelope.js'
import {PROBLEM_CODES} from '../../src/lib/contract/problems.js'
import {parseSubject} from '../../src/lib/contract/taxonomy.js'
import {validateDocuments} from '../../src/lib/contract/validate.js'
import {parseConfig} from '../../src/lib/config/file.js'
import {parseAdvisory} from '../../src/lib/dlq/advisory.js'
import {parseRef} from '../../src/lib/dlq/ref.js'
import {parseDuration} from '../../src/lib/duration.js'
import {UserError} from '../../src/lib/errors.js'
import {ExitCode} from '../../src/lib/exit-codes.js'
import {validateLayout} from '../../src/lib/layout/load.js'
import {toTailEvent} from '../../src/lib/workflow/tail.js'
import {toWorkflowMessage} from '../../src/lib/workflow/read.js'

const RUNS = {numRuns: 300}
const codes = new Set<string>(PROBLEM_CODES)
const enc = new TextEncoder()

function validEnvelope() {
  return newEnvelope({
    type: 'maskin.server.provision.requested',
    source: 'sentral',
    actor: 'ops@example',
    correlation_id: 'corr-1',
    data: {server_id: 'srv-1', profile: 'small'},
  })
}

/** Bytes that are not valid UTF-8: a lone continuation byte, an overlong form or a truncated sequence. */
const invalidUtf8 = fc
  .tuple(
    fc.uint8Array({max: 0x7f, maxLength: 40}),
    fc.constantFrom([0x80], [0xc0, 0xaf], [0xe2, 0x82], [0xff], [0xed, 0xa0, 0x80], [0xf8, 0x88, 0x80, 0x80, 0x80]),
    fc.uint8Array({max: 0x7f, maxLength: 40}),
  )
  .map(([a, bad, b]) => Uint8Array.from([...a, ...bad, ...b]))

const nested = (depth: number, open: string, close: string, inner = '1') =>
  open.repeat(depth) + inner + close.repeat(depth)

/** A value of the wrong kind for every envelope field (all of them are strings, except `data`, an object). */
const wrongValue = fc.oneof(fc.constant(null), fc.integer(), fc.boolean(), fc.constant([]), fc.constant({}))
const wrongData = fc.oneof(fc.constant(null), fc.integer(), fc.boolean(), fc.constant([1]), fc.string({maxLength: 5}))

function expectProblems(result: {problems: Array<{path: string; code: string; message: string}>}) {
  expect(result.problems.length).toBeGreaterThan(0)
  for (const p of result.problems) {
    expect(codes.has(p.code), `unknown problem code ${p.code}`).toBe(true)
    expect(p.path.startsWith('$')).toBe(true)
    expect(p.message.length).toBeGreaterThan(0)
  }
}

describe('decodeMessage (the stream readers: tail, workflow show, task watch, dlq list)', () => {
  it('never throws on random bytes, and reports problems unless the bytes are a valid envelope', () => {
    fc.assert(
      fc.property(fc.uint8Array({maxLength: 512}), (bytes) => {
        const decoded = decodeMessage(bytes)
        if (!decoded.ok) expectProblems(decoded)
        else expect(typeof decoded.envelope.id).toBe('string')
      }),
      RUNS,
    )
  })

  it('reports invalid UTF-8 as bad-utf8 with the raw text kept', () => {
    fc.assert(
      fc.property(invalidUtf8, (bytes) => {
        const decoded = decodeMessage(bytes)
        expect(decoded.ok).toBe(false)
        if (!decoded.ok) {
          expect(decoded.problems.map((p) => p.code)).toEqual(['bad-utf8'])
          expect(typeof decoded.raw).toBe('string')
        }
      }),
      RUNS,
    )
  })

  it('never throws on arbitrary JSON values, and only a well-formed envelope is ok', () => {
    fc.assert(
      fc.property(fc.jsonValue({maxDepth: 6}), (value) => {
        const decoded = decodeMessage(enc.encode(JSON.stringify(value)))
        if (!decoded.ok) expectProblems(decoded)
      }),
      RUNS,
    )
  })

  it('survives deeply nested JSON (arrays and objects 100,000 levels deep, also inside data)', () => {
    const deepArray = nested(100_000, '[', ']')
    const deepObject = nested(100_000, '{"a":', '}')
    for (const body of [deepArray, deepObject]) {
      const decoded = decodeMessage(enc.encode(body))
      expect(decoded.ok).toBe(false)
      if (!decoded.ok) expectProblems(decoded)
    }
    const envelope = JSON.stringify(validEnvelope()).replace(
      /"data":\{[^}]*\}/,
      `"data":{"deep":${nested(20_000, '{"a":', '}')},"list":${nested(20_000, '[', ']')}}`,
    )
    expect(() => decodeMessage(enc.encode(envelope))).not.toThrow()
  })

  it('survives a huge message (8 MiB of JSON) without throwing', () => {
    const big = JSON.stringify({...validEnvelope(), data: {blob: 'x'.repeat(8 * 1024 * 1024)}})
    const decoded = decodeMessage(enc.encode(big), {maxPayload: 1024 * 1024})
    expect(decoded.ok).toBe(false)
    if (!decoded.ok) expectProblems(decoded)
  })

  it('flags an envelope with every field wrong, with a problem for each required field', () => {
    const required = ['specversion', 'id', 'type', 'source', 'time', 'actor', 'correlation_id', 'data']
    fc.assert(
      fc.property(fc.tuple(...required.map((f) => (f === 'data' ? wrongData : wrongValue))), (values) => {
        const env: Record<string, unknown> = validEnvelope()
        required.forEach((field, i) => (env[field] = values[i]))
        const decoded = decodeMessage(enc.encode(JSON.stringify(env)))
        expect(decoded.ok).toBe(false)
        if (decoded.ok) return
        expectProblems(decoded)
        const paths = new Set(decoded.problems.map((p) => p.path.split(/[.[]/).slice(0, 2).join('.')))
        for (const field of required) expect(paths.has(`$.${field}`), `no problem for ${field}`).toBe(true)
      }),
      {numRuns: 100},
    )
  })

  it('keeps a valid envelope valid under any extra unknown field (consumers ignore unknown fields)', () => {
    fc.assert(
      fc.property(
        fc.string({minLength: 1, maxLength: 12}).filter((k) => !(k in validEnvelope()) && k !== '__proto__'),
        fc.jsonValue({maxDepth: 3}),
        (key, value) => {
          const env = {...validEnvelope(), [key]: value}
          expect(validateEnvelope(env).valid).toBe(true)
        },
      ),
      RUNS,
    )
  })
})

describe('stream-reader building blocks', () => {
  const stored = (data: Uint8Array, subject = 'dv.maskin.cmd.provision') => ({
    site: 'osl1',
    stream: 'DV_CMD',
    seq: 1,
    subject,
    time: '2026-01-01T00:00:00.000Z',
    data,
  })

  it('toTailEvent turns any bytes into a message or an invalid line, never a throw', () => {
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({maxLength: 300}), invalidUtf8), fc.string({maxLength: 30}), (data, subj) => {
        const event = toTailEvent(stored(data, subj || 'x'), {})
        expect(event).not.toBeNull()
        if (event!.kind === 'invalid') expectProblems(event as never)
      }),
      RUNS,
    )
  })

  it('toWorkflowMessage never throws on bytes that contain the correlation id', () => {
    fc.assert(
      fc.property(fc.string({maxLength: 100}), fc.string({maxLength: 100}), (before, after) => {
        expect(() => toWorkflowMessage(stored(enc.encode(`${before}corr-1${after}`)), 'corr-1')).not.toThrow()
      }),
      RUNS,
    )
  })

  it('the dead-letter advisory parser returns null (not a throw) for anything that is not an advisory', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({maxLength: 300}),
          invalidUtf8,
          fc.jsonValue({maxDepth: 4}).map((v) => enc.encode(JSON.stringify(v))),
          fc
            .record({stream: wrongValue, consumer: wrongValue, stream_seq: wrongValue, type: wrongValue})
            .map((v) => enc.encode(JSON.stringify(v))),
        ),
        (bytes) => {
          expect(() => parseAdvisory(bytes)).not.toThrow()
        },
      ),
      RUNS,
    )
  })
})

describe('inputs given by the user', () => {
  it('parseSubject never throws, and a subject it calls valid is a dv. subject of plain tokens', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({maxLength: 60}), fc.string({unit: 'binary', maxLength: 60})), (s) => {
        const analysis = parseSubject(s)
        if (analysis.valid) expect(s).toMatch(/^dv(\.[a-z][a-z0-9_]*){3,4}$/)
        else expect(analysis.problems.length).toBeGreaterThan(0)
      }),
      RUNS,
    )
  })

  it('validateDocuments (contract validate) reports every bad document; only empty input is a UserError', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({maxLength: 300}), fc.uint8Array({maxLength: 300}), invalidUtf8), (input) => {
        let result
        try {
          result = validateDocuments(input)
        } catch (error) {
          expect(error).toBeInstanceOf(UserError)
          expect((error as UserError).exitCode).toBe(ExitCode.usage)
          return
        }
        if (!result.valid) expect(result.results.some((r) => !r.valid)).toBe(true)
      }),
      RUNS,
    )
  })

  it('validateLayout never throws on arbitrary JSON and reports problems with a path', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.jsonValue({maxDepth: 5}),
          fc.record({streams: fc.dictionary(fc.string({maxLength: 8}), fc.jsonValue({maxDepth: 3}))}),
        ),
        (value) => {
          const {layout, problems} = validateLayout(value)
          if (!layout) expect(problems.length).toBeGreaterThan(0)
        },
      ),
      RUNS,
    )
  })

  it('parseConfig rejects random text only with a UserError (exit 2) naming the file', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.string({maxLength: 200}),
          fc.jsonValue({maxDepth: 4}).map((v) => JSON.stringify(v)),
          fc.constantFrom('sites: [', 'sites:\n  a: {servers: 7}', '{{{', 'default_site: 3\nx: y', '\u0000\u0001'),
        ),
        async (text) => {
          try {
            await parseConfig(text, '/tmp/cfg.yaml')
          } catch (error) {
            expect(error).toBeInstanceOf(UserError)
            expect((error as UserError).exitCode).toBe(ExitCode.usage)
            expect((error as UserError).message).toContain('/tmp/cfg.yaml')
          }
        },
      ),
      {numRuns: 150},
    )
  })

  it('parseDuration and parseRef reject garbage only with a UserError', () => {
    fc.assert(
      fc.property(fc.string({maxLength: 30}), (s) => {
        for (const parse of [parseDuration, parseRef]) {
          try {
            parse(s)
          } catch (error) {
            expect(error).toBeInstanceOf(UserError)
          }
        }
      }),
      RUNS,
    )
  })
})
