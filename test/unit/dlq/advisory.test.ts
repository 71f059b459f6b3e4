import {describe, expect, it} from 'vitest'

import {belongsToSite, checkAdvisory, parseAdvisory} from '../../../src/lib/dlq/advisory.js'

const enc = (v: unknown) => new TextEncoder().encode(JSON.stringify(v))

describe('parseAdvisory', () => {
  it('reads a max_deliver advisory as nats-server 2.9 sends it', () => {
    const a = parseAdvisory(
      enc({
        type: 'io.nats.jetstream.advisory.v1.max_deliver',
        id: 'x',
        timestamp: '2026-01-01T00:00:00Z',
        stream: 'DV_CMD',
        consumer: 'maskin',
        stream_seq: 42,
        deliveries: 5,
        domain: 'osl1',
      }),
    )
    expect(a).toEqual({
      reason: 'max_deliveries',
      type: 'io.nats.jetstream.advisory.v1.max_deliver',
      stream: 'DV_CMD',
      consumer: 'maskin',
      stream_seq: 42,
      consumer_seq: null,
      deliveries: 5,
      timestamp: '2026-01-01T00:00:00Z',
      term_reason: null,
      domain: 'osl1',
    })
  })

  it('reads a terminated advisory with the 2.10.4+ reason and ignores unknown fields', () => {
    const a = parseAdvisory(
      enc({
        type: 'io.nats.jetstream.advisory.v1.terminated',
        stream: 'DV_CMD',
        consumer: 'nett',
        consumer_seq: 7,
        stream_seq: 9,
        deliveries: 1,
        reason: 'quota-exceeded: no quota',
        something_new: {x: 1},
      }),
    )
    expect(a).toMatchObject({
      reason: 'terminated',
      stream_seq: 9,
      consumer_seq: 7,
      term_reason: 'quota-exceeded: no quota',
      domain: null,
    })
  })

  it('returns null for anything that is not a dead-letter advisory', () => {
    expect(parseAdvisory(new TextEncoder().encode('not json'))).toBeNull()
    expect(parseAdvisory(enc({type: 'io.nats.jetstream.advisory.v1.nak', stream: 'S', stream_seq: 1}))).toBeNull()
    expect(parseAdvisory(enc({type: 'io.nats.jetstream.advisory.v1.max_deliver', stream: 'S'}))).toBeNull()
    expect(parseAdvisory(enc([1, 2]))).toBeNull()
  })
})

describe('belongsToSite', () => {
  const a = (domain: string | null) => ({
    ...parseAdvisory(
      enc({type: 'io.nats.jetstream.advisory.v1.terminated', stream: 'S', consumer: 'c', stream_seq: 1}),
    )!,
    domain,
  })
  it('keeps advisories of the site own domain and those without a domain', () => {
    expect(belongsToSite(a('osl1'), 'osl1')).toBe(true)
    expect(belongsToSite(a(null), 'osl1')).toBe(true)
    expect(belongsToSite(a(null), null)).toBe(true)
  })
  it("never attributes another site's advisory to this site", () => {
    expect(belongsToSite(a('trd1'), 'osl1')).toBe(false)
    expect(belongsToSite(a('trd1'), null)).toBe(false)
  })
})

describe('checkAdvisory: advisories are untrusted input', () => {
  const subject = '$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.DV_CMD.maskin'
  const good = {
    type: 'io.nats.jetstream.advisory.v1.max_deliver',
    timestamp: '2026-01-01T00:00:00.123456789Z',
    stream: 'DV_CMD',
    consumer: 'maskin',
    stream_seq: 42,
    deliveries: 5,
  }
  const codes = (v: unknown, on = subject) => {
    const r = checkAdvisory(enc(v), on)
    return r.ok ? [] : r.invalid.problems.map((p) => p.code)
  }

  it('accepts a real advisory on its own subject, with or without a timestamp', () => {
    expect(checkAdvisory(enc(good), subject)).toMatchObject({ok: true, advisory: {stream_seq: 42}})
    const {timestamp: _, ...untimed} = good
    expect(checkAdvisory(enc(untimed), subject)).toMatchObject({ok: true, advisory: {timestamp: null}})
  })

  it('reports each bad field with its own code, and keeps what can be shown', () => {
    expect(codes({...good, stream_seq: 0})).toEqual(['bad-stream-seq'])
    expect(codes({...good, stream_seq: 2 ** 60})).toEqual(['bad-stream-seq'])
    expect(codes({...good, stream_seq: '42'})).toEqual(['bad-stream-seq'])
    expect(codes({...good, stream: 'DV_CMD.>'})).toEqual(['bad-stream'])
    expect(codes({...good, stream: 'S'.repeat(10_000)})).toEqual(['bad-stream'])
    expect(codes({...good, stream: 'S'.repeat(255)}, `${subject.replace('DV_CMD', 'S'.repeat(255))}`)).toEqual([])
    expect(codes({...good, consumer: 'a b'})).toEqual(['bad-consumer'])
    expect(codes({...good, consumer: 7})).toEqual(['bad-consumer'])
    expect(codes({...good, deliveries: -1, consumer_seq: 'x'})).toEqual(['bad-consumer-seq', 'bad-deliveries'])
    expect(codes({...good, timestamp: 'yesterday'})).toEqual(['bad-timestamp'])
    expect(codes({...good, reason: {toString: 1}, domain: 5})).toEqual(['bad-reason', 'bad-domain'])
    expect(codes({...good, type: 'io.nats.jetstream.advisory.v1.nak'})).toEqual(['bad-type'])
    const r = checkAdvisory(enc({...good, stream: 'S'.repeat(10_000), stream_seq: 0}), subject)
    expect(r).toMatchObject({ok: false, invalid: {reason: 'max_deliveries', consumer: 'maskin', stream_seq: 0}})
    expect(!r.ok && r.invalid.stream.length).toBe(65)
  })

  it('refuses a body that names another stream or consumer than the subject it was stored on', () => {
    expect(codes({...good, stream: 'DV_EVT'})).toEqual(['subject-mismatch'])
    expect(codes(good, subject.replace('MAX_DELIVERIES', 'MSG_TERMINATED'))).toEqual(['subject-mismatch'])
  })

  it('bounds decoding: size and depth are checked before parsing', () => {
    expect(codes({...good, pad: 'x'.repeat(70 * 1024)})).toEqual(['too-large'])
    const deep = new TextEncoder().encode(`{"x":${'['.repeat(20_000)}${']'.repeat(20_000)}}`)
    expect(checkAdvisory(deep, subject)).toMatchObject({ok: false, invalid: {problems: [{code: 'too-deep'}]}})
    // Brackets are counted first; many of them inside strings do not make a flat advisory deep.
    expect(codes({...good, reason: '{['.repeat(40)})).toEqual([])
    // 16 levels are allowed (an unknown field is tolerated), 17 are not, however few other brackets there are.
    const nested = (levels: number) => `${'['.repeat(levels - 1)}1${']'.repeat(levels - 1)}`
    const withDepth = (levels: number) =>
      new TextEncoder().encode(`${JSON.stringify(good).slice(0, -1)},"extra":${nested(levels)}}`)
    expect(checkAdvisory(withDepth(16), subject).ok).toBe(true)
    expect(checkAdvisory(withDepth(17), subject)).toMatchObject({ok: false, invalid: {problems: [{code: 'too-deep'}]}})
    expect(codes('not an object')).toEqual(['not-object'])
    const bytes = Uint8Array.from([0xff, 0xfe])
    expect(checkAdvisory(bytes, subject)).toMatchObject({ok: false, invalid: {problems: [{code: 'not-json'}]}})
  })
})
