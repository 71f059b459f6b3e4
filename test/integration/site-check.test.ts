import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {freePort} from '../../src/lib/sandbox/nats-server.js'
import {serverAtLeast} from '../../src/lib/nats/server-version.js'
import {SiteCheckResult} from '../../src/lib/nats/site-check.js'
import {runCommand} from '../helpers/run.js'
import {natsFixture, type NatsServerHandle} from '../helpers/nats.js'

describe('site check', () => {
  let server: NatsServerHandle
  beforeAll(async () => {
    server = await natsFixture({name: 'osl1'})
  })
  afterAll(async () => server?.dispose())

  it('reports version, JetStream and domain of a real server', async () => {
    const r = await runCommand(['site', 'check', '--server', server.url, '--json'])
    expect(r.exitCode).toBe(0)
    const result = SiteCheckResult.parse(r.json())
    expect(result.connected).toBe(true)
    expect(result.server_version).toMatch(/^2\.\d+\.\d+/)
    // The API level is reported from 2.11 on; older servers have none.
    const apiLevel = serverAtLeast(result.server_version ?? '', '2.11.0') ? expect.any(Number) : null
    expect(result.jetstream).toEqual({enabled: true, domain: 'osl1', api_level: apiLevel})
    expect(result.url).toBe(server.url)
  })

  it('prints a table row for humans', async () => {
    const r = await runCommand(['site', 'check', '--server', server.url])
    expect(r.exitCode).toBe(0)
    expect(r.stdout).toContain(server.url)
    expect(r.stdout).toContain('enabled')
    // Not a terminal: tab-separated cells, no header. The API level cell: a number from 2.11, n/a before.
    const cells = r.stdout.trim().split('\t')
    expect(cells[6]).toMatch(serverAtLeast(cells[3], '2.11.0') ? /^\d+$/ : /^n\/a$/)
  })

  it('exits 4 with one line naming the URL when nothing listens', async () => {
    const url = `nats://127.0.0.1:${await freePort()}`
    const r = await runCommand(['site', 'check', '--server', url, '--timeout', '2s'])
    expect(r.exitCode).toBe(4)
    expect(r.stdout).toBe('')
    expect(r.stderr.split('\n')[0]).toBe(`Error: Site 127.0.0.1:${url.split(':')[2]} (${url}): connection refused`)
    expect(r.stderr).not.toMatch(/at .*\.js:\d+/)
  })

  it('gives the error as JSON with --json', async () => {
    const url = `nats://127.0.0.1:${await freePort()}`
    const r = await runCommand(['site', 'check', '--server', url, '--json'])
    expect(r.exitCode).toBe(4)
    expect(r.json()).toEqual({
      error: {code: 'connection-refused', message: expect.stringContaining(url), exitCode: 4, hint: expect.any(String)},
    })
  })

  it('times out against a server that never answers, within the timeout', async () => {
    // A listening socket that accepts and says nothing: the client waits for INFO until --timeout.
    const {createServer} = await import('node:net')
    const silent = createServer(() => {})
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve))
    const port = (silent.address() as {port: number}).port
    try {
      const r = await runCommand(['site', 'check', '--server', `nats://127.0.0.1:${port}`, '--timeout', '1s', '--json'])
      expect(r.exitCode).toBe(4)
      expect(r.json().error.code).toBe('connection-timeout')
    } finally {
      silent.close()
    }
  })

  it('refuses an unknown flag with exit 2 and no stack', async () => {
    const r = await runCommand(['site', 'check', '--bogus'])
    expect(r.exitCode).toBe(2)
    expect(r.stderr).toContain('Error: Unknown flag --bogus.')
    expect(r.stderr).not.toMatch(/\n\s+at /)
  })
})
