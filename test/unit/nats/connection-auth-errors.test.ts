// A refused login is told from a slow one (secrets.test.ts runs wrong secrets against real servers).
import {errors} from '@nats-io/transport-node'
import {describe, expect, it} from 'vitest'

import {connectionError} from '../../../src/lib/nats/errors.js'

const site = {name: 'x', servers: ['nats://h:1']}

describe('connectionError for a login the server ends', () => {
  it('an authorization violation is exit 4, connection-auth', () => {
    const e = connectionError(site, 'nats://h:1', new errors.AuthorizationError('Authorization Violation'))
    expect(e).toMatchObject({code: 'connection-auth', exitCode: 4})
  })

  it("the server's authentication timeout is exit 4, connection-timeout: not a credentials problem", () => {
    const e = connectionError(site, 'nats://h:1', new errors.AuthorizationError('Authentication Timeout'))
    expect(e).toMatchObject({code: 'connection-timeout', exitCode: 4})
  })
})
