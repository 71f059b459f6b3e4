import {describe, expect, it} from 'vitest'

import {formatRef, ledgerKey, parseRef, refFromLedgerKey} from '../../../src/lib/dlq/ref.js'
import {UserError} from '../../../src/lib/errors.js'

describe('dead-letter references', () => {
  it('parses local and site-qualified refs', () => {
    expect(parseRef('DV_CMD:42')).toEqual({stream: 'DV_CMD', seq: 42})
    expect(parseRef('osl1/DV_CMD:7')).toEqual({site: 'osl1', stream: 'DV_CMD', seq: 7})
  })
  it('refuses malformed refs with a usage error (exit 2) and a hint', () => {
    for (const bad of ['DV_CMD', 'DV_CMD:0', 'DV_CMD:x', ':3', 'a/b/c:1']) {
      let error: unknown
      try {
        parseRef(bad)
      } catch (e) {
        error = e
      }
      expect(error).toBeInstanceOf(UserError)
      expect((error as UserError).exitCode).toBe(2)
      expect((error as UserError).hint).toContain('<stream>:<seq>')
    }
  })
  it('formats refs, qualified only when asked', () => {
    expect(formatRef({site: 'osl1', stream: 'DV_CMD', seq: 3})).toBe('DV_CMD:3')
    expect(formatRef({site: 'osl1', stream: 'DV_CMD', seq: 3}, true)).toBe('osl1/DV_CMD:3')
  })
  it('maps refs to ledger keys that KV accepts, and back', () => {
    expect(ledgerKey({stream: 'DV_CMD', seq: 3})).toBe('DV_CMD.3')
    expect(ledgerKey({stream: 'DV_CMD', seq: 3})).toMatch(/^[-/_=.a-zA-Z0-9]+$/)
    expect(refFromLedgerKey('DV_CMD.3')).toEqual({stream: 'DV_CMD', seq: 3})
    expect(refFromLedgerKey('_replays.abc.0')).toBeUndefined()
  })
})
