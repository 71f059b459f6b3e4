import {describe, expect, it} from 'vitest'

import {editDistance, suggest} from '../../src/lib/suggest.js'

describe('suggest', () => {
  it('counts a transposition as one edit', () => {
    expect(editDistance('stauts', 'status')).toBe(1)
    expect(editDistance('lst', 'list')).toBe(1)
    expect(editDistance('', 'abc')).toBe(3)
  })

  it('offers the nearest candidates first and nothing far away', () => {
    expect(suggest('stauts', ['status', 'stream', 'site'])).toEqual(['status'])
    expect(suggest('dlq lst', ['dlq list', 'dlq show', 'dlq replay'])).toEqual(['dlq list'])
    expect(suggest('zzzzzz', ['status', 'stream'])).toEqual([])
  })
})
