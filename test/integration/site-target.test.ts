// The target is never implicit (issue 15): once sites are configured, a command without --site/--server
// and without a default refuses before connecting anywhere; removing the default site says so.
import {mkdtemp, rm, writeFile} from 'node:fs/promises'
import {createServer, type Server} from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {SiteChangeResult} from '../../src/lib/config/sites.js'
import {runCommand} from '../helpers/run.js'

describe('no implicit target', {timeout: 60_000}, () => {
  let dir: string
  let config: string
  let listener: Server
  let port: number
  let connections = 0

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dvctl-target-'))
    config = join(dir, 'config.yaml')
    // A site whose "server" only counts who dials it.
    listener = createServer((socket) => {
      connections++
      socket.destroy()
    })
    await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve))
    port = (listener.address() as {port: number}).port
  })
  afterAll(async () => {
    listener?.close()
    await rm(dir, {recursive: true, force: true})
  })

  const env = () => ({DVCTL_CONFIG: config, NATS_URL: ''})

  it('dlq list with sites but no default exits 2, lists the sites and connects nowhere', async () => {
    await writeFile(
      config,
      `sites:\n  s1: {servers: ["nats://127.0.0.1:${port}"]}\n  s2: {servers: ["nats://127.0.0.1:${port}"]}\n`,
    )
    const r = await runCommand(['dlq', 'list', '--json'], {env: env()})
    expect(r.exitCode, r.stdout + r.stderr).toBe(2)
    expect(r.json().error).toMatchObject({code: 'no-site-chosen'})
    expect(r.json().error.message).toContain('s1, s2')
    expect(connections).toBe(0)
  })

  it('removing the default site warns and says how to choose another', async () => {
    await writeFile(
      config,
      `default_site: s1\nsites:\n  s1: {servers: ["nats://127.0.0.1:${port}"]}\n  s2: {servers: ["nats://127.0.0.1:${port}"]}\n`,
    )
    const json = await runCommand(['site', 'remove', 's1', '--json'], {env: env()})
    expect(SiteChangeResult.parse(json.json())).toMatchObject({action: 'removed', was_default: true, sites: ['s2']})
    await writeFile(config, `default_site: s2\nsites:\n  s2: {servers: ["nats://127.0.0.1:${port}"]}\n`)
    const human = await runCommand(['site', 'remove', 's2'], {env: env()})
    expect(human.exitCode).toBe(0)
    expect(human.stderr).toContain('s2 was the default site and the last one')
    expect(connections).toBe(0)
  })
})
