import {describe, expect, it} from 'vitest'

import {isTransient, retryTransient} from '../../../src/lib/nats/transient.js'

const named = (name: string, extra: Record<string, unknown> = {}) => Object.assign(new Error(name), {name, ...extra})

describe('isTransient', () => {
  it('treats timeouts, no responders and 503s as passing, other failures as final', () => {
    expect(isTransient(named('TimeoutError'))).toBe(true)
    expect(isTransient(named('RequestError', {cause: named('NoResponders')}))).toBe(true)
    expect(isTransient(named('JetStreamApiError', {status: 503}))).toBe(true)
    expect(isTransient(named('JetStreamApiError', {status: 404}))).toBe(false)
    expect(isTransient(named('JetStreamNotEnabled'))).toBe(false)
    expect(isTransient(new Error('stream not found'))).toBe(false)
  })
})

describe('retryTransient', () => {
  it('repeats after a transient failure and stops at a final one or when the attempts are used', async () => {
    let calls = 0
    await expect(
      retryTransient(async () => {
        if (++calls < 2) throw named('TimeoutError')
        return 'ok'
      }),
    ).resolves.toBe('ok')
    expect(calls).toBe(2)

    calls = 0
    await expect(
      retryTransient(async () => {
        calls++
        throw new Error('stream not found')
      }),
    ).rejects.toThrow('stream not found')
    expect(calls).toBe(1)

    calls = 0
    await expect(
      retryTransient(
        async () => {
          calls++
          throw named('TimeoutError')
        },
        {attempts: 2},
      ),
    ).rejects.toThrow('TimeoutError')
    expect(calls).toBe(2)
  })
})
