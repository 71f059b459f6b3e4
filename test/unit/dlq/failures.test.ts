import {describe, expect, it} from 'vitest'

import {failureOfTermReason} from '../../../src/lib/dlq/failures.js'

describe('failureOfTermReason', () => {
  it('reads `<code>: <message>` as a worker writes it', () => {
    expect(failureOfTermReason('quota-exceeded: tenant acme has no quota left')).toEqual({
      code: 'quota-exceeded',
      message: 'tenant acme has no quota left',
    })
    expect(failureOfTermReason('e42: first: second')).toEqual({code: 'e42', message: 'first: second'})
  })

  it('keeps any other text whole as a `terminated` failure', () => {
    for (const reason of ['Message deleted by stream limits', 'invalid envelope: bad', 'quota-exceeded:', 'x:y'])
      expect(failureOfTermReason(reason)).toEqual({code: 'terminated', message: reason})
  })
})
