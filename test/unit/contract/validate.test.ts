import {describe, expect, it} from 'vitest'

import {splitJsonValues, validateDocuments, ValidateResult} from '../../../src/lib/contract/validate.js'
import {provisionCommand} from './fixtures.js'

const good = provisionCommand()
const bad = provisionCommand({id: 'bad-1', time: 'yesterday'})

describe('validateDocuments', () => {
  it('one object', () => {
    const r = ValidateResult.parse(validateDocuments(JSON.stringify(good)))
    expect(r).toEqual({
      valid: true,
      results: [{index: 0, line: 1, id: good.id, type: good.type, valid: true, problems: [], warnings: []}],
    })
  })

  it('an array of messages', () => {
    const r = validateDocuments(JSON.stringify([good, bad], null, 2))
    expect(r.valid).toBe(false)
    expect(r.results.map((x) => [x.index, x.id, x.valid])).toEqual([
      [0, good.id, true],
      [1, 'bad-1', false],
    ])
    expect(r.results[1].problems).toEqual([{path: '$.time', code: 'bad-time', message: expect.any(String)}])
  })

  it('NDJSON, with a broken line reported on its own and the rest still checked', () => {
    const text = [JSON.stringify(good), '', JSON.stringify(bad), '{"truncated":', JSON.stringify(good)].join('\n')
    const r = validateDocuments(text)
    expect(r.results.map((x) => [x.index, x.line, x.valid])).toEqual([
      [0, 1, true],
      [1, 3, false],
      [2, 4, false],
      [3, 5, true],
    ])
    expect(r.results[2].problems[0]).toMatchObject({path: '$', code: 'not-json'})
  })

  it('pretty-printed objects one after another (jq output)', () => {
    const r = validateDocuments(`${JSON.stringify(good, null, 2)}\n${JSON.stringify(bad, null, 2)}\n`)
    expect(r.results.map((x) => x.valid)).toEqual([true, false])
    expect(r.results[1].line).toBe(JSON.stringify(good, null, 2).split('\n').length + 1)
  })

  it('passes subject and strict through', () => {
    const r = validateDocuments(JSON.stringify({...good, extra: 1}), {subject: 'dv.nett.cmd.provision', strict: true})
    expect(r.valid).toBe(true)
    expect(r.results[0].warnings.map((w) => w.code).sort()).toEqual(['type-mismatch', 'unknown-field'])
  })

  it('invalid UTF-8 is one invalid result', () => {
    const r = validateDocuments(new Uint8Array([0x7b, 0xff, 0x7d]))
    expect(r).toMatchObject({valid: false, results: [{problems: [{code: 'bad-utf8'}]}]})
  })

  it('an array line inside NDJSON is one not-object message', () => {
    const r = validateDocuments(`${JSON.stringify(good)}\n[1,2]\n`)
    expect(r.results[1].problems[0]).toMatchObject({code: 'not-object'})
  })

  it('empty input and an empty array are usage errors', () => {
    expect(() => validateDocuments('  \n')).toThrow(expect.objectContaining({code: 'empty-input', exitCode: 2}))
    expect(() => validateDocuments('[]')).toThrow(expect.objectContaining({code: 'empty-input', exitCode: 2}))
  })
})

describe('splitJsonValues', () => {
  it('respects strings with brackets, escapes and newlines between values', () => {
    const parts = splitJsonValues('{"a":"}{\\"]"}\n\n  [1,{"b":[2]}] 3\n"x"')
    expect(parts).toEqual([
      {text: '{"a":"}{\\"]"}', line: 1},
      {text: '[1,{"b":[2]}]', line: 3},
      {text: '3', line: 3},
      {text: '"x"', line: 4},
    ])
  })
})
