import fc from 'fast-check'
import {describe, expect, it} from 'vitest'

import {NeedleFilter} from '../../../src/lib/nats/needle.js'

const enc = new TextEncoder()

/** Messages as the client hands them out: consecutive views into one buffer a socket read filled. */
function views(buffer: Uint8Array, lengths: number[]): Uint8Array[] {
  const out: Uint8Array[] = []
  let at = 0
  for (const n of lengths) {
    out.push(buffer.subarray(at, at + n))
    at += n
  }
  return out
}

const naive = (needle: Uint8Array, data: Uint8Array) => Buffer.from(data).indexOf(needle) !== -1

describe('NeedleFilter: whether a payload contains the bytes, searched once per buffer', () => {
  it('finds the message that contains the needle among views of one buffer, and only it', () => {
    const chunk = enc.encode('{"c":"a"}{"c":"b-42"}{"c":"c"}{"c":"b-42"}')
    const filter = new NeedleFilter(enc.encode('b-42'))
    expect(views(chunk, [9, 12, 9, 12]).map((m) => filter.has(m))).toEqual([false, true, false, true])
  })

  it('does not count an occurrence that straddles two messages, or one in bytes after the last', () => {
    const chunk = enc.encode('xxab' + 'cdyy' + 'abcd')
    const filter = new NeedleFilter(enc.encode('abcd'))
    // The first view holds "xxab", the second "cdyy": "abcd" spans them, so neither contains it.
    expect(filter.has(chunk.subarray(0, 4))).toBe(false)
    expect(filter.has(chunk.subarray(4, 8))).toBe(false)
    // Bytes of the buffer beyond a message are never its own: "cdyyab" is followed by the "cd" that ends an "abcd".
    expect(new NeedleFilter(enc.encode('abcd')).has(chunk.subarray(4, 10))).toBe(false)
    expect(filter.has(chunk.subarray(8, 12))).toBe(true)
  })

  it('starts over for another buffer, for a message earlier in the same buffer, and for overlapping needles', () => {
    const filter = new NeedleFilter(enc.encode('aa'))
    const one = enc.encode('xaaaxaa')
    expect(filter.has(one.subarray(1, 3))).toBe(true)
    expect(filter.has(one.subarray(2, 4))).toBe(true)
    expect(filter.has(one.subarray(3, 5))).toBe(false)
    // Back to an earlier offset of the same buffer, then a new buffer.
    expect(filter.has(one.subarray(0, 2))).toBe(false)
    expect(filter.has(one.subarray(5, 7))).toBe(true)
    expect(filter.has(enc.encode('bbaabb'))).toBe(true)
    expect(filter.has(enc.encode('bbbb'))).toBe(false)
    expect(filter.has(new Uint8Array(0))).toBe(false)
  })

  it('agrees with a search of each message on its own, for any split of any buffer and any order of reads', () => {
    const byte = fc.constantFrom(97, 98, 99)
    fc.assert(
      fc.property(
        fc.uint8Array({minLength: 1, maxLength: 3}).map((n) => n.map((b) => 97 + (b % 3))),
        fc.array(fc.record({data: fc.array(byte, {maxLength: 60}), cuts: fc.array(fc.nat(12), {maxLength: 12})}), {
          minLength: 1,
          maxLength: 4,
        }),
        fc.array(fc.nat(), {maxLength: 6}),
        (needle, buffers, rewinds) => {
          const filter = new NeedleFilter(needle)
          for (const {data, cuts} of buffers) {
            const buffer = Uint8Array.from(data)
            const messages = views(buffer, cuts)
            // Read in order, with some messages read again out of order in between.
            const order = messages.map((_, i) => i)
            for (const r of rewinds) if (messages.length) order.splice(r % (order.length + 1), 0, r % messages.length)
            for (const i of order) expect(filter.has(messages[i]!)).toBe(naive(needle, messages[i]!))
          }
        },
      ),
      {numRuns: 2000},
    )
  })
})
