// A site whose server runs without JetStream is "JetStream unavailable" (exit 4, jetstream-unavailable),
// never "no stream" (exit 5); and each failure is said once, without its site named twice (issue 15).
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {runCommand} from '../helpers/run.js'
import {natsFixture, type NatsServerHandle} from '../helpers/nats.js'

describe('a server without JetStream', {timeout: 60_000}, () => {
  let core: NatsServerHandle

  beforeAll(async () => {
    core = await natsFixture({name: 'nojs', jetstream: false})
  })
  afterAll(async () => core?.dispose())

  const run = (...args: string[]) => runCommand([...args, '--server', core.url, '--json'])
  const error = (r: {json(): {error: {code: string; message: string; hint?: string}}}) => r.json().error

  it.each([
    ['dlq list', ['dlq', 'list']],
    ['layout plan', ['layout', 'plan']],
    ['task list', ['task', 'list']],
    ['workflow show', ['workflow', 'show', 'corr-1']],
    ['workflow list', ['workflow', 'list']],
    ['workflow count', ['workflow', 'count', '--group-by', 'status']],
    ['publish', ['publish', 'dv.maskin.cmd.provision', '--data', '{"server_id":"s","profile":"p"}']],
  ])('%s exits 4 with jetstream-unavailable', async (_, argv) => {
    const r = await run(...argv)
    expect(r.exitCode, r.stdout + r.stderr).toBe(4)
    expect(error(r)).toMatchObject({code: 'jetstream-unavailable', hint: expect.stringContaining('nats-server -js')})
    expect(error(r).message).toContain('JetStream is not available')
  })

  it('tail exits 4 saying JetStream is not available, not that a stream is missing', async () => {
    const r = await runCommand(['tail', '--server', core.url])
    expect(r.exitCode, r.stdout + r.stderr).toBe(4)
    expect(r.stderr).toContain('JetStream is not available')
    expect(r.stderr).not.toMatch(/no stream/i)
    // Said once, as the error.
    expect(r.stderr.match(/JetStream is not available/g)).toHaveLength(1)
    const json = await runCommand(['tail', '--server', core.url, '--json'])
    expect(json.exitCode).toBe(4)
    expect(json.json().error).toMatchObject({code: 'jetstream-unavailable', exitCode: 4})
  })

  it('workflow show names the site once, in the error only', async () => {
    const r = await runCommand(['workflow', 'show', 'corr-1', '--server', core.url])
    expect(r.exitCode).toBe(4)
    const site = `127.0.0.1:${core.port}`
    expect(r.stderr.match(/JetStream is not available/g)).toHaveLength(1)
    expect(r.stderr).toContain(`Error: Site ${site} (${core.url}): JetStream is not available`)
    expect(r.stderr).not.toContain(`${site}: ${site}`)
  })

  it('doctor says JetStream once and names the site once', async () => {
    const r = await runCommand(['doctor', '--server', core.url])
    expect(r.exitCode).toBe(4)
    expect(r.stdout).not.toContain('JetStream: JetStream')
    const site = `127.0.0.1:${core.port}`
    expect(r.stdout).toContain(`problem Site ${site} (${core.url}): JetStream is not available`)
  })
})
