import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {validateEnvelope} from '../../src/lib/contract/envelope.js'
import {connectSite, type SiteConnection} from '../../src/lib/nats/connection.js'
import {RequestResult} from '../../src/lib/publish/request.js'
import {runCommand} from '../helpers/run.js'
import {natsFixture, type NatsServerHandle} from '../helpers/nats.js'

describe('request', {timeout: 60_000}, () => {
  let server: NatsServerHandle
  let conn: SiteConnection
  const seen: Array<{envelope: Record<string, unknown>; origin: string | undefined}> = []

  beforeAll(async () => {
    server = await natsFixture({name: 'osl1'})
    conn = await connectSite({name: 'osl1', servers: [server.url]}, {timeoutMs: 5000})
    // A test responder for identitet's token introspection: answers from the request's payload.
    conn.nc.subscribe('dv.rpc.identitet.introspect_token', {
      callback: (_err, msg) => {
        const envelope = msg.json<Record<string, unknown>>()
        seen.push({envelope, origin: msg.headers?.get('Dv-Origin')})
        const token = (envelope.data as {token?: string}).token
        msg.respond(JSON.stringify({active: token === 'good', subject: 'alice', scopes: ['read']}))
      },
    })
    conn.nc.subscribe('dv.rpc.sentral.ping', {
      callback: (_err, msg) => {
        msg.respond('pong')
      },
    })
    // Listens and never answers: the request times out.
    conn.nc.subscribe('dv.rpc.objekt.stat', {callback: () => {}})
    await conn.nc.flush()
  })
  afterAll(async () => {
    await conn?.close()
    await server?.dispose()
  })

  const request = (args: string[]) => runCommand(['request', ...args, '--server', server.url])

  it('gets the reply of a test responder, with a validated envelope', async () => {
    const r = await request(['dv.rpc.identitet.introspect_token', '--data', '{"token":"good"}', '--json'])
    expect(r.exitCode).toBe(0)
    const result = RequestResult.parse(r.json())
    expect(result).toMatchObject({
      subject: 'dv.rpc.identitet.introspect_token',
      reply_format: 'json',
      reply: {active: true, subject: 'alice', scopes: ['read']},
    })
    const sent = seen.at(-1)!
    expect(sent.origin).toBe('dvctl')
    expect(sent.envelope).toEqual(result.envelope)
    expect(sent.envelope.type).toBe('identitet.token.introspect.requested')
    expect(validateEnvelope(sent.envelope, {subject: 'dv.rpc.identitet.introspect_token'}).problems).toEqual([])
  })

  it('pretty-prints a JSON reply and prints a text reply as is', async () => {
    const json = await request(['dv.rpc.identitet.introspect_token', '--data', '{"token":"bad"}'])
    expect(json.exitCode).toBe(0)
    expect(json.stdout).toBe(JSON.stringify({active: false, subject: 'alice', scopes: ['read']}, null, 2) + '\n')
    const text = await request(['dv.rpc.sentral.ping'])
    expect(text.exitCode).toBe(0)
    expect(text.stdout).toBe('pong\n')
  })

  it('exits 5 with a clear message when nothing listens', async () => {
    const r = await request(['dv.rpc.nett.route_lookup', '--data', '{}'])
    expect(r.exitCode).toBe(5)
    expect(r.stderr).toContain('Error: No responders for dv.rpc.nett.route_lookup on site')
    expect(r.stderr).not.toMatch(/at .*\.js:\d+/)
  })

  it('exits 9 when the responder does not answer within --timeout', async () => {
    const r = await request(['dv.rpc.objekt.stat', '--data', '{}', '--timeout', '1s', '--json'])
    expect(r.exitCode).toBe(9)
    expect(r.json().error.code).toBe('timeout')
  })

  it('validates before sending: a payload failing its schema, or a non-RPC subject, is exit 2', async () => {
    const before = seen.length
    const bad = await request(['dv.rpc.identitet.introspect_token', '--data', '{"token":7}', '--json'])
    expect(bad.exitCode).toBe(2)
    expect(bad.json().error.problems.map((p: {code: string}) => p.code)).toContain('schema-violation')
    expect(seen.length).toBe(before)
    const cmd = await request(['dv.maskin.cmd.provision', '--data', '{}', '--json'])
    expect(cmd.exitCode).toBe(2)
    expect(cmd.json().error.problems[0]).toMatchObject({code: 'forbidden-subject'})
  })
})
