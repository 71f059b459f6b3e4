// A login the server ends is one answer, exit 4 connection-auth (secrets.test.ts runs wrong secrets against
// real servers); the client gives a slow login the same class, so the hint names that case too.
import {errors} from '@nats-io/transport-node'
import {describe, expect, it} from 'vitest'

import {connectionError} from '../../../src/lib/nats/errors.js'

const site = {name: 'x', servers: ['nats://h:1']}

describe('connectionError for a login the server ends', () => {
  it('an authorization violation is exit 4, connection-auth', () => {
    const e = connectionError(site, 'nats://h:1', new errors.AuthorizationError('Authorization Violation'))
    expect(e).toMatchObject({code: 'connection-auth', exitCode: 4})
  })

  it("the server's authentication timeout is the same answer, and the hint says what a slow login means", () => {
    const e = connectionError(site, 'nats://h:1', new errors.AuthorizationError('Authentication Timeout'))
    expect(e).toMatchObject({code: 'connection-auth', exitCode: 4})
    expect(e.hint).toContain('authorization timeout')
  })
})
