import {errors} from '@nats-io/transport-node'
import {JetStreamApiError} from '@nats-io/jetstream'
import {jserrors} from '@nats-io/jetstream/internal'
import {describe, expect, it} from 'vitest'

import {isTransient, retryTransient} from '../../../src/lib/nats/transient.js'

// The client's own error classes, as it throws them (recognised by type, never by message text).
const timeout = () => new errors.TimeoutError()
const noResponders = () => new errors.RequestError('', {cause: new errors.NoRespondersError('$JS.API.INFO')})
const apiError = (err_code: number, code: number) => new JetStreamApiError({err_code, code, description: 'x'})

describe('isTransient', () => {
  it('treats timeouts, no responders and 503s as passing, other failures as final', () => {
    expect(isTransient(timeout())).toBe(true)
    expect(isTransient(noResponders())).toBe(true)
    // js.publish with nobody answering the stream's subject: JetStreamNotEnabled wrapping no responders.
    expect(isTransient(new jserrors.JetStreamNotEnabled('x', {cause: noResponders()}))).toBe(true)
    expect(isTransient(apiError(10_008, 503))).toBe(true)
    expect(isTransient(apiError(10_009, 500))).toBe(true)
    expect(isTransient(new jserrors.StreamNotFoundError({err_code: 10_059, code: 404, description: 'x'}))).toBe(false)
    expect(isTransient(apiError(10_058, 400))).toBe(false)
    // JetStream not enabled for the account: an answer, not a passing state.
    expect(isTransient(new jserrors.JetStreamNotEnabled('x', {cause: apiError(10_039, 503)}))).toBe(false)
    expect(isTransient(new errors.ClosedConnectionError())).toBe(false)
    expect(isTransient(new Error('timeout'))).toBe(false)
  })
})

describe('retryTransient', () => {
  it('repeats after a transient failure and stops at a final one or when the attempts are used', async () => {
    let calls = 0
    await expect(
      retryTransient(async () => {
        if (++calls < 2) throw timeout()
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
          throw timeout()
        },
        {attempts: 2},
      ),
    ).rejects.toBeInstanceOf(errors.TimeoutError)
    expect(calls).toBe(2)
  })
})
