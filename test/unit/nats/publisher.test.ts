import {headers as msgHdrs} from '@nats-io/transport-node'
import fc from 'fast-check'
import {describe, expect, it} from 'vitest'

import {encodeHeaders, InvalidHeaderError} from '../../../src/lib/nats/publisher.js'

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes)

/** What the client itself encodes for the same headers appended in order. */
function clientEncoded(list: Array<[string, string]>): string {
  const h = msgHdrs()
  for (const [name, value] of list) h.append(name, value)
  // encode() is what the client's publish calls on the headers it is given (MsgHdrsImpl; not in the interface).
  return text((h as unknown as {encode(): Uint8Array}).encode())
}

/** Whether the client refuses to append the header (its own rules for names and values). */
function clientRefuses(name: string, value: string): boolean {
  try {
    msgHdrs().append(name, value)
    return false
  } catch {
    return true
  }
}

const name = fc.stringMatching(/^[!-9;-~]{1,12}$/)
const value = fc.string({unit: 'grapheme', maxLength: 20}).filter((v) => !/[\r\n]/.test(v))

describe('encodeHeaders: a replay copy’s headers, encoded once', () => {
  it('encodes what the client’s MsgHdrs encodes for the same headers appended in order', () => {
    expect(
      text(
        encodeHeaders([
          ['X-Trace', ' captured '],
          ['Dv-Replay-Of', 'DV_CMD:12'],
          ['X-Trace', 'again'],
        ]),
      ),
    ).toBe('NATS/1.0\r\nX-Trace: captured\r\nX-Trace: again\r\nDv-Replay-Of: DV_CMD:12\r\n\r\n')
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.oneof(name, fc.constantFrom('X-A', 'x-a')), value), {maxLength: 8}), (list) => {
        expect(text(encodeHeaders(list))).toBe(clientEncoded(list))
      }),
    )
  })

  it('refuses what the client refuses: a name outside printable ASCII or with a colon, a value with a line break', () => {
    for (const [n, v] of [
      ['X Trace', 'v'],
      ['X:Trace', 'v'],
      ['Ünicode', 'v'],
      ['', 'v'],
      ['X-Trace', 'a\r\nNats-Msg-Id: forged'],
      ['X-Trace', 'a\nb'],
    ]) {
      expect(() => encodeHeaders([[n, v]])).toThrow(InvalidHeaderError)
      // The empty name is the one the client lets through (and writes as ": v"); dvctl never sends it.
      if (n !== '') expect(clientRefuses(n, v)).toBe(true)
    }
    fc.assert(
      fc.property(fc.string({maxLength: 8}), value, (n, v) => {
        const refused = (() => {
          try {
            encodeHeaders([[n, v]])
            return false
          } catch {
            return true
          }
        })()
        if (n !== '') expect(refused).toBe(clientRefuses(n, v))
      }),
    )
  })
})
