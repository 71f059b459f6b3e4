import {describe, expect, it} from 'vitest'

import {belongsToSite, parseAdvisory} from '../../../src/lib/dlq/advisory.js'

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
