import {mkdtemp, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {stringify} from 'yaml'

import {dataverketLayout} from '../../src/lib/layout/dataverket.js'
import {STREAMS} from '../../src/lib/layout/names.js'
import {connectSite, type SiteConnection} from '../../src/lib/nats/connection.js'
import {runCommand} from '../helpers/run.js'
import {natsFixture, type NatsServerHandle} from '../helpers/nats.js'

const PROVISION = JSON.stringify({server_id: 'srv-1', profile: 'small'})

/**
 * One site model (issue 14): a site named osl1 whose JetStream domain is `hub` (its server is named and
 * domained hub) is osl1 everywhere: the datacenter_id publish stamps and the layout's `sites.osl1`
 * overrides. The same server addressed only by URL is named by its JetStream domain, hub.
 */
describe('site identity: a site whose js_domain is not its name', {timeout: 120_000}, () => {
  let server: NatsServerHandle
  let conn: SiteConnection
  let dir: string
  let env: NodeJS.ProcessEnv

  beforeAll(async () => {
    // Server name and JetStream domain `hub` (sandbox/nats-server.ts names the domain after the server).
    server = await natsFixture({name: 'hub', layout: true})
    conn = await connectSite({name: 'hub', servers: [server.url], js_domain: 'hub'}, {timeoutMs: 5000})
    dir = await mkdtemp(join(tmpdir(), 'dvctl-site-identity-'))
    env = {DVCTL_CONFIG: join(dir, 'config.yaml'), NATS_URL: ''}
    const add = await runCommand(['site', 'add', 'osl1', '--server', server.url, '--js-domain', 'hub', '--json'], {env})
    expect(add.exitCode).toBe(0)
  })
  afterAll(async () => {
    await conn?.close()
    await server?.dispose()
    if (dir) await rm(dir, {recursive: true, force: true})
  })

  const storedEnvelope = async (seq: number) => {
    const stored = await (await conn.jsm()).streams.getMessage(STREAMS.cmd, {seq})
    return stored!.json<Record<string, unknown>>()
  }

  it('publish stamps the site name as datacenter_id, not the JetStream domain', async () => {
    const r = await runCommand(
      ['publish', 'dv.maskin.cmd.provision', '--data', PROVISION, '--site', 'osl1', '--json'],
      {
        env,
      },
    )
    expect(r.exitCode).toBe(0)
    const result = r.json()
    expect(result.envelope.datacenter_id).toBe('osl1')
    expect((await storedEnvelope(result.seq)).datacenter_id).toBe('osl1')
  })

  it('a site addressed only by URL is named by its server: its JetStream domain', async () => {
    const r = await runCommand(
      ['publish', 'dv.maskin.cmd.provision', '--data', PROVISION, '--server', server.url, '--json'],
      {
        env,
      },
    )
    expect(r.exitCode).toBe(0)
    expect((await storedEnvelope(r.json().seq)).datacenter_id).toBe('hub')
  })

  it('layout plan applies the sites.osl1 overrides to osl1, not to the same server addressed by URL (hub)', async () => {
    const layout = dataverketLayout()
    layout.sites = {osl1: {streams: {DV_EVT: {...layout.streams.DV_EVT, max_age: '7d'}}}}
    const file = join(dir, 'layout.yaml')
    await writeFile(file, stringify(layout))

    const named = await runCommand(['layout', 'plan', file, '--site', 'osl1', '--json'], {env})
    expect(named.exitCode).toBe(0)
    const plan = named.json()
    expect(plan.site).toBe('osl1')
    const evt = plan.changes.find((c: {name: string}) => c.name === STREAMS.evt)
    expect(evt).toMatchObject({action: 'update', diff: [{field: 'max_age', from: '30d', to: '7d'}]})

    // By URL the site is `hub`: the osl1 overrides are not its own.
    const byUrl = await runCommand(['layout', 'plan', file, '--server', server.url, '--json'], {env})
    expect(byUrl.exitCode).toBe(0)
    expect(byUrl.json().site).toBe('hub')
    expect(byUrl.json().changes.find((c: {name: string}) => c.name === STREAMS.evt).action).toBe('noop')
  })

  it('site check reports the JetStream domain, server version and API level the connection resolved', async () => {
    const r = await runCommand(['site', 'check', '--site', 'osl1', '--json'], {env})
    expect(r.exitCode).toBe(0)
    const check = r.json()
    const version = conn.nc.info!.version
    expect(check).toMatchObject({site: 'osl1', connected: true, server_version: version})
    expect(check.jetstream.enabled).toBe(true)
    expect(check.jetstream.domain).toBe('hub')
    // nats-server 2.9 and 2.10 have no API level; 2.11 and newer report one.
    const [major, minor] = version.split('.').map(Number)
    if (major === 2 && minor < 11) expect(check.jetstream.api_level).toBeNull()
    else expect(check.jetstream.api_level).toBeGreaterThan(0)
  })

  it('the connection resolves its identity once, from INFO and one account-info request', async () => {
    const site = await connectSite({name: 'osl1', servers: [server.url], js_domain: 'hub'}, {timeoutMs: 5000})
    try {
      const first = site.identity()
      expect(site.identity()).toBe(first)
      expect(await first).toMatchObject({
        name: 'osl1',
        datacenterId: 'osl1',
        jsDomain: 'hub',
        serverName: 'hub',
        jetstream: true,
      })
      expect(site.identity()).toBe(first)
      const byUrl = await connectSite({name: server.url, servers: [server.url], byUrl: true}, {timeoutMs: 5000})
      try {
        expect(await byUrl.identity()).toMatchObject({datacenterId: 'hub', jsDomain: 'hub'})
      } finally {
        await byUrl.close()
      }
    } finally {
      await site.close()
    }
  })
})
