import {mkdtemp, readFile, rm, stat, writeFile} from 'node:fs/promises'
import {createConnection, createServer, type Server} from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import type {NatsConnection} from '@nats-io/transport-node'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {loadConfig} from '../../src/lib/config/file.js'
import {SiteChecksResult} from '../../src/lib/nats/site-check.js'
import {isOurNatsServer} from '../../src/lib/sandbox/nats-server.js'
import {SandboxDownResult, SandboxResult} from '../../src/lib/sandbox/sandbox.js'
import {runCommand} from '../helpers/run.js'

// One sandbox (osl1 hub, trd1 leaf) for the whole file; the tests run in order and end with `sandbox down`.
// Each test runs the CLI a few times; on a loaded two-core CI machine one run can take several seconds.
describe('sandbox up --sites osl1,trd1', {timeout: 120_000}, () => {
  let root: string
  let dir: string
  let userConfig: string
  let up: SandboxResult
  const conns: Record<string, NatsConnection> = {}
  const env = () => ({DVCTL_CONFIG: userConfig})
  const site = (name: string) => up.sites.find((s) => s.name === name)!
  /**
   * Kills a site's server and waits until it is gone and its port refuses connections: a killed process loses
   * its command line (so isOurNatsServer says no) a moment before its sockets close, and a dial in between is
   * reset instead of refused.
   */
  const kill = async (name: string) => {
    process.kill(site(name).pid, 'SIGKILL')
    await waitUntil(async () => !(await isOurNatsServer(site(name).pid, join(dir, name, 'nats-server.conf'))))
    await waitUntil(() => portRefuses(Number(new URL(site(name).url).port)))
  }

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'dvctl-sandbox-test-'))
    dir = join(root, 'sandbox')
    userConfig = join(root, 'user-config.yaml')
    const r = await runCommand(['sandbox', 'up', '--sites', 'osl1,trd1', '--dir', dir, '--register', '--json'], {
      env: env(),
    })
    expect(r.stderr).toBe('')
    expect(r.exitCode).toBe(0)
    up = SandboxResult.parse(r.json())
    const {connect} = await import('@nats-io/transport-node')
    for (const s of up.sites) conns[s.name] = await connect({servers: s.url})
  })

  afterAll(async () => {
    for (const nc of Object.values(conns)) await nc.close().catch(() => {})
    // In case a test failed before `sandbox down`: never leave servers behind.
    await runCommand(['sandbox', 'down', '--dir', dir], {env: env()})
    await rm(root, {recursive: true, force: true})
  })

  it('starts one server per site, each its own JetStream domain, and writes the sites to configs', async () => {
    expect(up.sites.map((s) => [s.name, s.js_domain, s.role, s.running])).toEqual([
      ['osl1', 'osl1', 'hub', true],
      ['trd1', 'trd1', 'leaf', true],
    ])
    expect(site('osl1').pid).not.toBe(site('trd1').pid)
    expect(site('osl1').url).not.toBe(site('trd1').url)
    for (const s of up.sites) expect((await stat(s.store_dir)).isDirectory()).toBe(true)
    const sandboxConfig = await loadConfig({path: up.config})
    expect(sandboxConfig.config.default_site).toBe('osl1')
    expect(sandboxConfig.config.sites.trd1).toMatchObject({servers: [site('trd1').url], js_domain: 'trd1'})
    // --register: the user's own config got the same sites.
    expect(up.registered_in).toBe(userConfig)
    expect(Object.keys((await loadConfig({path: userConfig})).config.sites)).toEqual(['osl1', 'trd1'])

    const status = await runCommand(['sandbox', 'status', '--dir', dir, '--json'])
    expect(status.exitCode).toBe(0)
    expect(SandboxResult.parse(status.json()).sites.map((s) => s.pid)).toEqual(up.sites.map((s) => s.pid))
  })

  it('applied the dataverket layout on each site', async () => {
    const {jetstreamManager} = await import('@nats-io/jetstream')
    for (const name of ['osl1', 'trd1']) {
      const jsm = await jetstreamManager(conns[name])
      const streams = (await jsm.streams.names().next()).sort()
      expect(streams).toEqual(expect.arrayContaining(['DV_CMD', 'DV_DLQ', 'DV_EVT', 'DV_TASK']))
    }
  })

  it('dv.rpc.* request/reply crosses sites, both ways', async () => {
    for (const [server, client] of [
      ['osl1', 'trd1'],
      ['trd1', 'osl1'],
    ]) {
      const sub = conns[server].subscribe('dv.rpc.identitet.introspect_token', {
        callback: (_err, msg) => {
          msg.respond(`answered by ${server}`)
        },
      })
      await conns[server].flush()
      const reply = await requestWithRetry(conns[client], 'dv.rpc.identitet.introspect_token')
      expect(reply).toBe(`answered by ${server}`)
      sub.unsubscribe()
    }
  })

  it('a command published on trd1 (dvctl publish --site trd1) lands in trd1’s DV_CMD and not in osl1’s', async () => {
    const {jetstreamManager} = await import('@nats-io/jetstream')
    const r = await runCommand(
      [
        'publish',
        'dv.maskin.cmd.provision',
        '--data',
        '{"server_id":"srv-1","profile":"small"}',
        '--site',
        'trd1',
        '--json',
      ],
      {env: {DVCTL_CONFIG: up.config}},
    )
    expect(r.exitCode).toBe(0)
    expect(r.json()).toMatchObject({site: 'trd1', stream: 'DV_CMD', seq: 1})
    await crossSiteBarrier(conns)
    const count = async (name: string) =>
      (await (await jetstreamManager(conns[name])).streams.info('DV_CMD')).state.messages
    expect(await count('trd1')).toBe(1)
    expect(await count('osl1')).toBe(0)
  })

  it('acks and advisories on trd1 never reach osl1 (the dead letter stays on its site)', async () => {
    const {jetstream, jetstreamManager} = await import('@nats-io/jetstream')
    const seen: Record<string, string[]> = {osl1: [], trd1: []}
    const subs = Object.entries(conns).flatMap(([name, nc]) =>
      ['$JS.ACK.>', '$JS.EVENT.>', 'dv.*.evt.>'].map((subject) =>
        nc.subscribe(subject, {
          callback: (_err, msg) => {
            seen[name].push(msg.subject)
          },
        }),
      ),
    )
    await Promise.all(Object.values(conns).map((nc) => nc.flush()))
    await crossSiteBarrier(conns)

    const js = jetstream(conns.trd1)
    await js.publish('dv.maskin.evt.server.provisioned', JSON.stringify({id: 'e1'}))
    await js.publish('dv.maskin.cmd.provision', JSON.stringify({id: 'c2'}))
    const consumer = await js.consumers.get('DV_CMD', 'maskin')
    const first = await consumer.next({expires: 2000})
    expect(first).not.toBeNull()
    await first!.ackAck()
    const second = await consumer.next({expires: 2000})
    second!.term() // a terminated command: MSG_TERMINATED advisory, captured by trd1's DV_DLQ
    await conns.trd1.flush()
    await crossSiteBarrier(conns)
    await new Promise((r) => setTimeout(r, 300))
    for (const sub of subs) sub.unsubscribe()

    // Positive control: trd1 itself saw the ack, the event and the advisories.
    expect(seen.trd1.some((s) => s.startsWith('$JS.ACK.DV_CMD.maskin.'))).toBe(true)
    expect(seen.trd1).toContain('dv.maskin.evt.server.provisioned')
    expect(seen.trd1.some((s) => s.startsWith('$JS.EVENT.ADVISORY.'))).toBe(true)
    expect(seen.osl1).toEqual([])
    const dlq = async (name: string) =>
      (await (await jetstreamManager(conns[name])).streams.info('DV_DLQ')).state.messages
    expect(await dlq('trd1')).toBe(1)
    expect(await dlq('osl1')).toBe(0)
    const evt = async (name: string) =>
      (await (await jetstreamManager(conns[name])).streams.info('DV_EVT')).state.messages
    expect(await evt('trd1')).toBe(1)
    expect(await evt('osl1')).toBe(0)
  })

  it('site check --all-sites shows both sites', async () => {
    const r = await runCommand(['site', 'check', '--all-sites', '--json'], {env: {DVCTL_CONFIG: up.config}})
    expect(r.exitCode).toBe(0)
    const result = SiteChecksResult.parse(r.json())
    expect(result.sites.map((s) => [s.site, s.connected, s.jetstream.enabled, s.jetstream.domain])).toEqual([
      ['osl1', true, true, 'osl1'],
      ['trd1', true, true, 'trd1'],
    ])
    const human = await runCommand(['site', 'check', '--all-sites'], {env: {DVCTL_CONFIG: up.config}})
    expect(human.stdout.split('\n').filter(Boolean)).toHaveLength(2)
  })

  it('with a site that never answers, a fan-out read is bounded by --timeout and serves the other site', async () => {
    const silent: Server = createServer(() => {})
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve))
    const port = (silent.address() as {port: number}).port
    const config = join(root, 'with-silent.yaml')
    await writeFile(
      config,
      (await readFile(up.config, 'utf8')) + `  bgo1:\n    servers: ["nats://127.0.0.1:${port}"]\n`,
    )
    try {
      const r = await runCommand(['site', 'check', '--all-sites', '--timeout', '1s', '--json'], {
        env: {DVCTL_CONFIG: config},
        // Generous for a loaded CI machine: the point is that the command ends by itself (not killed, exit 137).
        timeoutMs: 60_000,
      })
      // Every site is shown; the silent one fails the check, as in doctor.
      expect(r.exitCode).toBe(4)
      const rows = SiteChecksResult.parse(r.json()).sites
      expect(rows.find((s) => s.site === 'bgo1')).toMatchObject({
        connected: false,
        error: `Site bgo1 (nats://127.0.0.1:${port}): timed out after 1s`,
      })
      expect(rows.filter((s) => s.connected).map((s) => s.site)).toEqual(['osl1', 'trd1'])
      expect(r.stderr).toContain('Warning: Site bgo1')
    } finally {
      silent.close()
    }
  })

  it('with trd1 killed, site check --all-sites still answers from osl1, warns about trd1 and exits 4', async () => {
    await kill('trd1')
    const r = await runCommand(['site', 'check', '--all-sites', '--timeout', '2s', '--json'], {
      env: {DVCTL_CONFIG: up.config},
    })
    expect(r.exitCode).toBe(4)
    const rows = SiteChecksResult.parse(r.json()).sites
    expect(rows[0]).toMatchObject({site: 'osl1', connected: true})
    expect(rows[1]).toMatchObject({
      site: 'trd1',
      connected: false,
      error: `Site trd1 (${site('trd1').url}): connection refused`,
    })
    expect(r.stderr).toContain(`Warning: Site trd1 (${site('trd1').url}): connection refused`)

    const status = await runCommand(['sandbox', 'status', '--dir', dir, '--json'])
    expect(status.exitCode).toBe(4)
    expect(SandboxResult.parse(status.json()).sites.map((s) => s.running)).toEqual([true, false])
  })

  it('with every site dead, site check --all-sites exits 4 and lists both as not connected', async () => {
    await kill('osl1')
    const r = await runCommand(['site', 'check', '--all-sites', '--timeout', '2s', '--json'], {
      env: {DVCTL_CONFIG: up.config},
    })
    expect(r.exitCode).toBe(4)
    expect(SiteChecksResult.parse(r.json()).sites.map((s) => s.connected)).toEqual([false, false])
    const human = await runCommand(['site', 'check', '--all-sites'], {env: {DVCTL_CONFIG: up.config}})
    expect(human.exitCode).toBe(4)
    expect(human.stderr).toContain('Warning: Site osl1')
  })

  it('sandbox up again restarts the dead servers on the same ports with their data', async () => {
    const r = await runCommand(['sandbox', 'up', '--sites', 'osl1,trd1', '--dir', dir, '--json'], {env: env()})
    expect(r.exitCode).toBe(0)
    const again = SandboxResult.parse(r.json())
    expect(again.started).toEqual(['osl1', 'trd1'])
    expect(again.sites.map((s) => s.url)).toEqual(up.sites.map((s) => s.url))
    expect(again.sites.every((s) => s.running)).toBe(true)
    up = again
    const {connect} = await import('@nats-io/transport-node')
    const {jetstreamManager} = await import('@nats-io/jetstream')
    const nc = await connect({servers: site('trd1').url})
    try {
      expect((await (await jetstreamManager(nc)).streams.info('DV_CMD')).state.messages).toBe(2)
    } finally {
      await nc.close()
    }
  })

  it('sandbox down stops every server it started and leaves no process, no port and no state behind', async () => {
    for (const nc of Object.values(conns)) await nc.close().catch(() => {})
    const r = await runCommand(['sandbox', 'down', '--dir', dir, '--json'], {env: env()})
    expect(r.exitCode, r.stderr).toBe(0)
    const down = SandboxDownResult.parse(r.json())
    expect(down.stopped.map((s) => s.name).sort()).toEqual(['capture:osl1', 'capture:trd1', 'osl1', 'trd1'])
    expect(down.removed).toBe(true)
    for (const s of up.sites) {
      expect(await isOurNatsServer(s.pid, join(dir, s.name, 'nats-server.conf'))).toBe(false)
      expect(await portRefuses(Number(new URL(s.url).port))).toBe(true)
    }
    await expect(stat(dir)).rejects.toMatchObject({code: 'ENOENT'})
    // The sites --register added are gone from the user's config again, and with them the file, which the sandbox
    // had created: a newcomer's dvctl goes back to the local server rather than to "no site chosen".
    expect((await loadConfig({path: userConfig})).config.sites).toEqual({})
    await expect(stat(userConfig)).rejects.toMatchObject({code: 'ENOENT'})
    const status = await runCommand(['sandbox', 'status', '--dir', dir])
    expect(status.exitCode).toBe(5)
  })
})

describe('sandbox without nats-server', () => {
  it('says nats-server is missing and how to install it (exit 2)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'dvctl-sandbox-missing-'))
    try {
      const r = await runCommand(['sandbox', 'up', '--dir', dir, '--nats-server', '/nonexistent/nats-server'])
      expect(r.exitCode).toBe(2)
      expect(r.stderr).toContain('Error: nats-server not found (/nonexistent/nats-server)')
      expect(r.stderr).toContain('apt-get install -y nats-server')
      expect(r.stderr).not.toMatch(/at .*\.js:\d+/)
    } finally {
      await rm(dir, {recursive: true, force: true})
    }
  })
})

/** Requests until a responder's interest has crossed the leaf-node link (it propagates asynchronously). */
async function requestWithRetry(nc: NatsConnection, subject: string): Promise<string> {
  let last: unknown
  for (let i = 0; i < 50; i++) {
    try {
      return (await nc.request(subject, 'token', {timeout: 500})).string()
    } catch (error) {
      last = error
      await new Promise((r) => setTimeout(r, 100))
    }
  }
  throw last
}

/**
 * A round trip over the leaf-node link in both directions: anything published before it on one site
 * has reached the other by the time it returns (one ordered link), so "not there" really means "not sent".
 */
async function crossSiteBarrier(conns: Record<string, NatsConnection>): Promise<void> {
  const subject = `dv.rpc.sandbox.barrier_${Date.now()}`
  for (const [a, b] of [
    ['osl1', 'trd1'],
    ['trd1', 'osl1'],
  ]) {
    const sub = conns[a].subscribe(subject, {
      callback: (_e, m) => {
        m.respond('ok')
      },
    })
    await conns[a].flush()
    await requestWithRetry(conns[b], subject)
    sub.unsubscribe()
  }
}

async function waitUntil(check: () => Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time')
    await new Promise((r) => setTimeout(r, 25))
  }
}

async function portRefuses(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({host: '127.0.0.1', port})
    socket.once('connect', () => {
      socket.destroy()
      resolve(false)
    })
    socket.once('error', () => resolve(true))
  })
}
