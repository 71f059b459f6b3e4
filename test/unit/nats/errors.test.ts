import {errors} from '@nats-io/transport-node'
import {JetStreamApiError} from '@nats-io/jetstream'
import {JetStreamStatusError, jserrors} from '@nats-io/jetstream/internal'
import {describe, expect, it} from 'vitest'

import {UserError} from '../../../src/lib/errors.js'
import {ExitCode} from '../../../src/lib/exit-codes.js'
import {
  classifyNatsError,
  connectionError,
  describeNatsError,
  isNotFound,
  isSiteLost,
  isStreamNotFound,
  natsUserError,
  StalledError,
} from '../../../src/lib/nats/errors.js'

const site = {name: 'osl1', servers: ['nats://u:secret@osl1.example:4222']}
const url = 'nats://u:secret@osl1.example:4222'

// Real client error instances, built as the client builds them (jsbaseclient_api.js, protocol.js, node_transport.js).
const api = (err_code: number, code: number, description: string) => ({err_code, code, description})
const socketError = (code: string) => Object.assign(new Error(`connect ${code} 10.0.0.1:4222`), {code})

describe('classifyNatsError: by type and API code, never by message', () => {
  it.each([
    ['a request timeout', new errors.TimeoutError(), 'timeout'],
    [
      'no responders',
      new errors.RequestError('x', {cause: new errors.NoRespondersError('$JS.API.INFO')}),
      'no-responders',
    ],
    [
      'JetStream disabled for the account',
      new jserrors.JetStreamNotEnabled('x', {cause: new JetStreamApiError(api(10_039, 503, 'jetstream not enabled'))}),
      'no-jetstream',
    ],
    [
      'nobody answering the JetStream API',
      new jserrors.JetStreamNotEnabled('x', {
        cause: new errors.RequestError('x', {cause: new errors.NoRespondersError('$JS.hub.API.INFO')}),
      }),
      'no-responders',
    ],
    ['stream not found', new jserrors.StreamNotFoundError(api(10_059, 404, 'stream not found')), 'stream-not-found'],
    [
      'consumer not found',
      new jserrors.ConsumerNotFoundError(api(10_014, 404, 'consumer not found')),
      'consumer-not-found',
    ],
    ['no message found', new JetStreamApiError(api(10_037, 404, 'no message found')), 'message-not-found'],
    ['a direct get 404', new JetStreamStatusError('Message Not Found', 404), 'message-not-found'],
    [
      'a leader election',
      new JetStreamApiError(api(10_008, 503, 'JetStream system temporarily unavailable')),
      'unavailable',
    ],
    ['another API refusal', new JetStreamApiError(api(10_058, 400, 'stream name already in use')), 'rejected'],
    ['bad credentials', new errors.AuthorizationError('Authorization Violation'), 'auth'],
    ['expired credentials', new errors.UserAuthenticationExpiredError('User Authentication Expired'), 'auth'],
    ['a closed connection', new errors.ClosedConnectionError(), 'closed'],
    ['a draining connection', new errors.DrainingConnectionError(), 'disconnected'],
    [
      'a refused dial (wrapped by the transport)',
      new errors.ConnectionError('connection refused', {cause: socketError('ECONNREFUSED')}),
      'refused',
    ],
    ['an unknown host', socketError('ENOTFOUND'), 'unreachable'],
    ['a bad certificate', socketError('DEPTH_ZERO_SELF_SIGNED_CERT'), 'tls'],
    ['a TLS name mismatch', socketError('ERR_TLS_CERT_ALTNAME_INVALID'), 'tls'],
    ['a reset link', socketError('ECONNRESET'), 'disconnected'],
  ])('%s', (_what, error, kind) => {
    expect(classifyNatsError(error).kind).toBe(kind)
  })

  it('does not read meaning into message text', () => {
    expect(classifyNatsError(new Error('stream not found')).kind).toBe('unknown')
    expect(classifyNatsError(new Error('timeout')).kind).toBe('unknown')
    expect(classifyNatsError(new Error('Authorization Violation')).kind).toBe('unknown')
    expect(classifyNatsError('TIMEOUT').kind).toBe('unknown')
    expect(isStreamNotFound(new Error('stream not found'))).toBe(false)
  })

  it('answers the questions the commands ask', () => {
    expect(isStreamNotFound(new jserrors.StreamNotFoundError(api(10_059, 404, 'x')))).toBe(true)
    expect(isNotFound(new jserrors.ConsumerNotFoundError(api(10_014, 404, 'x')))).toBe(true)
    expect(isNotFound(new JetStreamApiError(api(10_037, 404, 'x')))).toBe(true)
    expect(isNotFound(new errors.TimeoutError())).toBe(false)
    expect(isSiteLost(new errors.TimeoutError())).toBe(true)
    expect(isSiteLost(new errors.ClosedConnectionError())).toBe(true)
    expect(isSiteLost(new JetStreamApiError(api(10_058, 400, 'x')))).toBe(false)
    expect(isSiteLost(new JetStreamApiError(api(10_058, 400, 'x')), {isClosed: () => true})).toBe(true)
  })
})

describe('translation into UserErrors', () => {
  it('names the site, redacts the URL, and carries a code, an exit code and a hint', () => {
    const e = connectionError(
      site,
      url,
      new errors.ConnectionError('connection refused', {cause: socketError('ECONNREFUSED')}),
    )
    expect(e).toBeInstanceOf(UserError)
    expect(e.message).toBe('Site osl1 (nats://u:***@osl1.example:4222): connection refused')
    expect(e).toMatchObject({code: 'connection-refused', exitCode: ExitCode.unavailable})
    expect(e.hint).toBeTruthy()

    const t = connectionError(site, 'nats://osl1:4222', new errors.TimeoutError(), 2000)
    expect(t.message).toBe('Site osl1 (nats://osl1:4222): timed out after 2s')
    expect(t.code).toBe('connection-timeout')
  })

  it('gives exit 4 for an unavailable site or JetStream and exit 5 for what does not exist', () => {
    const cases: Array<[unknown, string, number]> = [
      [new errors.AuthorizationError('Authorization Violation'), 'connection-auth', ExitCode.unavailable],
      [
        new jserrors.JetStreamNotEnabled('x', {cause: new JetStreamApiError(api(10_039, 503, 'x'))}),
        'jetstream-unavailable',
        ExitCode.unavailable,
      ],
      [new JetStreamApiError(api(10_008, 503, 'x')), 'site-unavailable', ExitCode.unavailable],
      [new jserrors.StreamNotFoundError(api(10_059, 404, 'x')), 'stream-not-found', ExitCode.notFound],
      [new jserrors.ConsumerNotFoundError(api(10_014, 404, 'x')), 'consumer-not-found', ExitCode.notFound],
    ]
    for (const [error, code, exitCode] of cases)
      expect(connectionError(site, 'nats://osl1:4222', error)).toMatchObject({code, exitCode})
  })

  it("puts our wording in results, never the client's message", () => {
    const timeout = new errors.TimeoutError()
    expect(describeNatsError(timeout)).toEqual({error: 'timed out', code: 'connection-timeout'})
    expect(describeNatsError(timeout).error).not.toContain(timeout.message)
    const noResponders = new errors.RequestError('no responders available for request', {
      cause: new errors.NoRespondersError('$JS.API.STREAM.INFO.X'),
    })
    expect(describeNatsError(noResponders).error).not.toContain('available for request')
    // A translated error is described by what happened, without repeating the site.
    const translated = connectionError(site, 'nats://osl1:4222', new errors.ClosedConnectionError())
    expect(describeNatsError(translated)).toEqual({error: 'connection closed', code: 'connection-lost'})
    const stalled = new StalledError(site, 'nats://osl1:4222', 'no answer for 2000ms while reading DV_EVT')
    expect(describeNatsError(stalled)).toEqual({
      error: 'no answer for 2000ms while reading DV_EVT',
      code: 'connection-timeout',
    })
  })

  it("keeps the server's reason when JetStream refuses a request, bounded and made safe for a terminal", () => {
    const refused = new JetStreamApiError(api(10_065, 400, 'subjects overlap with an existing stream\u001b[2J'))
    const {error, code} = describeNatsError(refused)
    expect(code).toBe('jetstream-refused')
    expect(error).toBe('JetStream refused it (error 10065: subjects overlap with an existing stream\\x1b[2J)')
  })

  it('translates an escaped client error at the command edge, and leaves anything else a bug', () => {
    expect(natsUserError(new errors.TimeoutError())).toMatchObject({
      message: 'The site did not answer: timed out',
      code: 'connection-timeout',
      exitCode: ExitCode.unavailable,
    })
    expect(natsUserError(new jserrors.StreamNotFoundError(api(10_059, 404, 'x')))).toMatchObject({
      exitCode: ExitCode.notFound,
    })
    expect(natsUserError(new TypeError('x is undefined'))).toBeUndefined()
  })
})
