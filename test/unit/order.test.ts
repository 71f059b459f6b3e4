import {describe, expect, it} from 'vitest'

import {compareText} from '../../src/lib/order.js'

describe('compareText', () => {
  it('orders machine text by code point, not by a locale', () => {
    // A locale's collation puts punctuation before digits and lower case before upper case.
    expect(['b', 'DVX', 'a', 'DV_CMD', 'B', '1', '_'].sort(compareText)).toEqual([
      '1',
      'B',
      'DVX',
      'DV_CMD',
      '_',
      'a',
      'b',
    ])
  })

  it('orders RFC 3339 times of one form by time, equal ones as 0', () => {
    const times = ['2026-12-03T10:00:00.5Z', '2026-12-03T09:59:59.999Z', '2026-12-03T10:00:00.25Z']
    expect([...times].sort(compareText)).toEqual([
      '2026-12-03T09:59:59.999Z',
      '2026-12-03T10:00:00.25Z',
      '2026-12-03T10:00:00.5Z',
    ])
    expect(compareText('2026-12-03T10:00:00Z', '2026-12-03T10:00:00Z')).toBe(0)
  })
})
