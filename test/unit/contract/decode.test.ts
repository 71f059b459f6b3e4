import {describe, expect, it} from 'vitest'

import {decodeMessage} from '../../../src/lib/contract/envelope.js'
import {provisionCommand} from './fixtures.js'

const enc = (s: string) => new TextEncoder().encode(s)

describe('decodeMessage', () => {
  it('decodes a valid envelope', () => {
    const r = decodeMessage(enc(JSON.stringify(provisionCommand())), {subject: 'dv.maskin.cmd.provision'})
    expect(r.ok).toBe(true)
    if (r.ok) {
      expect(r.envelope.correlation_id).toBe('wf-7f3a')
      expect(r.warnings).toEqual([])
    }
  })

  it('invalid UTF-8 is a bad-utf8 problem with the raw text, not a throw', () => {
    const r = decodeMessage(new Uint8Array([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]))
    expect(r).toMatchObject({ok: false, problems: [{path: '$', code: 'bad-utf8'}]})
    if (!r.ok) expect(r.raw).toContain('\uFFFD')
  })

  it.each([
    ['plain text', 'hello'],
    ['truncated JSON', '{"specversion":"1.0","id":'],
    ['empty body', ''],
    ['binary zeroes', '\0\0\0'],
  ])('%s is not-json with the raw text', (_name, text) => {
    const r = decodeMessage(enc(text))
    expect(r).toMatchObject({ok: false, problems: [{path: '$', code: 'not-json'}], raw: text})
  })

  it.each([
    ['an array', '[1,2,3]'],
    ['a string', '"text"'],
    ['a number', '42'],
    ['null', 'null'],
  ])('%s is not-object', (_name, text) => {
    expect(decodeMessage(enc(text))).toMatchObject({ok: false, problems: [{path: '$', code: 'not-object'}], raw: text})
  })

  it('an object breaking the contract returns its problems, raw text and parsed value', () => {
    const text = JSON.stringify(provisionCommand({time: 'now'}))
    const r = decodeMessage(enc(text))
    expect(r.ok).toBe(false)
    if (!r.ok) {
      expect(r.problems.map((p) => p.code)).toEqual(['bad-time'])
      expect(r.raw).toBe(text)
      expect(r.value).toMatchObject({id: provisionCommand().id})
    }
  })

  it('never throws on deeply nested JSON (as data and as the whole message)', () => {
    const depth = 50_000
    const nested = '['.repeat(depth) + ']'.repeat(depth)
    expect(decodeMessage(enc(nested))).toMatchObject({ok: false, problems: [{code: 'not-object'}]})
    const deepData = `{"specversion":"1.0","id":"x","type":"maskin.server.provisioned","source":"maskin","time":"2026-03-14T09:30:00Z","actor":"a","correlation_id":"c","data":{"server_id":"s","deep":${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}}}`
    const r = decodeMessage(enc(deepData), {maxPayload: 1024 * 1024 * 8})
    expect(r.ok).toBe(true)
  })

  it('finds opaque binary in a decoded message too', () => {
    const blob = Buffer.alloc(8000, 3).toString('base64')
    const r = decodeMessage(enc(JSON.stringify(provisionCommand({data: {server_id: 's', profile: 'p', blob}}))))
    expect(r).toMatchObject({ok: false, problems: [{path: '$.data.blob', code: 'opaque-binary'}]})
  })

  it('never throws on a huge message and flags it against max_payload', () => {
    const big = JSON.stringify(
      provisionCommand({
        data: {server_id: 's', profile: 'p', items: Array.from({length: 50_000}, (_, i) => ({i, note: 'a b c'}))},
      }),
    )
    expect(big.length).toBeGreaterThan(1_000_000)
    const r = decodeMessage(enc(big), {maxPayload: 1024 * 1024})
    expect(r).toMatchObject({ok: false, problems: [{path: '$', code: 'too-large'}]})
  })

  it('survives hostile shapes: __proto__ keys, huge numbers, odd unicode', () => {
    const texts = [
      '{"__proto__":{"polluted":true},"data":{}}',
      '{"specversion":"1.0","time":1e400,"data":{"x":-0}}',
      '{"id":"\\ud800","data":{"\\u0000":"\\u2028"}}',
    ]
    for (const t of texts) {
      expect(() => decodeMessage(enc(t))).not.toThrow()
      expect(decodeMessage(enc(t)).ok).toBe(false)
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
  })
})
