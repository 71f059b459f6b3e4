import {mkdtemp, rm, stat} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {loadConfig} from '../../src/lib/config/file.js'
import {DoctorResult} from '../../src/lib/doctor/check.js'
import {SiteCheckResult} from '../../src/lib/nats/site-check.js'
import {serverAtLeast} from '../../src/lib/nats/server-version.js'
import {isOurNatsServer} from '../../src/lib/sandbox/nats-server.js'
import {SandboxResult} from '../../src/lib/sandbox/sandbox.js'
import {runCommand} from '../helpers/run.js'

// One clustered site (three nodes) is enough here and spares a two-core machine; the leaf-node link of
// clustered sites is covered by the same config code as single nodes. The tests run in order.
describe('sandbox up --cluster 3', {timeout: 240_000}, () => {
  let root: string
  let dir: string
  let up: SandboxResult
  const env = () => ({DVCTL_CONFIG: up.config})

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'dvctl-sandbox-cluster-'))
    dir = join(root, 'sandbox')
    const r = await runCommand(['sandbox', 'up', '--cluster', '3', '--sites', 'osl1', '--dir', dir, '--json'], {
      env: {DVCTL_CONFIG: join(root, 'unused.yaml')},
      timeoutMs: 180_000,
    })
    expect(r.exitCode, r.stderr).toBe(0)
    up = SandboxResult.parse(r.json())
  }, 200_000)

  afterAll(async () => {
    await runCommand(['sandbox', 'down', '--dir', dir])
    await rm(root, {recursive: true, force: true})
  })

  it('runs three nodes per site, each with its own pid and store, and status lists them', async () => {
    const status = await runCommand(['sandbox', 'status', '--dir', dir, '--json'])
    expect(status.exitCode).toBe(0)
    const [site] = SandboxResult.parse(status.json()).sites
    expect(site).toMatchObject({name: 'osl1', js_domain: 'osl1', role: 'hub', running: true})
    expect(site.nodes.map((n) => n.name)).toEqual(['osl1-n1', 'osl1-n2', 'osl1-n3'])
    expect(new Set(site.nodes.map((n) => n.pid)).size).toBe(3)
    expect(new Set(site.nodes.map((n) => n.store_dir)).size).toBe(3)
    for (const n of site.nodes) {
      expect(n.running).toBe(true)
      expect(await isOurNatsServer(n.pid, join(n.store_dir, '..', 'nats-server.conf'))).toBe(true)
      expect((await stat(n.store_dir)).isDirectory()).toBe(true)
    }
    // The compatible fields are the first node's.
    expect(site.url).toBe(site.nodes[0].url)
    expect(site.pid).toBe(site.nodes[0].pid)
  })

  it("writes all three URLs as the site's servers", async () => {
    const {config} = await loadConfig({path: up.config})
    expect(config.sites.osl1.servers).toEqual(up.sites[0].nodes.map((n) => n.url))
    expect(config.sites.osl1.servers).toHaveLength(3)
  })

  it('applies the standard layout at R3 with no drift, and doctor shows leaders and current replicas', async () => {
    const r = await runCommand(['doctor', '--site', 'osl1', '--json', '--timeout', '10s'], {env: env()})
    const doctor = DoctorResult.parse(r.json())
    const [site] = doctor.sites
    expect(site.layout?.drift, JSON.stringify(site.layout)).toBe(false)
    const cmd = site.replication.find((g) => g.stream === 'DV_CMD' && g.consumer === null)
    expect(cmd).toMatchObject({replicas: 3, leader: expect.stringMatching(/^osl1-n[123]$/)})
    expect(cmd!.followers).toHaveLength(2)
    const maskin = site.replication.find((g) => g.stream === 'DV_CMD' && g.consumer === 'maskin')
    expect(maskin).toMatchObject({replicas: 3, leader: expect.stringMatching(/^osl1-n[123]$/)})
    expect(site.replication.find((g) => g.stream === 'KV_dv_dlq_ledger')?.replicas).toBe(3)
    expect(site.problems).toEqual([])
    expect(r.exitCode).toBe(0)
  })

  it('site check shows the version and API level; one killed node is a doctor warning, and up restarts it', async () => {
    const check = await runCommand(['site', 'check', '--site', 'osl1', '--json'], {env: env()})
    expect(check.exitCode).toBe(0)
    const result = SiteCheckResult.parse(check.json())
    const apiLevel = serverAtLeast(result.server_version ?? '', '2.11.0') ? expect.any(Number) : null
    expect(result.jetstream).toEqual({enabled: true, domain: 'osl1', api_level: apiLevel})

    const victim = up.sites[0].nodes[2]
    process.kill(victim.pid, 'SIGKILL')
    const status = await runCommand(['sandbox', 'status', '--dir', dir, '--json'])
    expect(status.exitCode).toBe(4)
    expect(SandboxResult.parse(status.json()).sites[0].nodes.map((n) => n.running)).toEqual([true, true, false])

    // The site still answers through the surviving nodes; the lost replica is reported once the group
    // notices (2.15 marks it offline, 2.9 stops hearing from it), as a warning: exit 0.
    let doctor: DoctorResult | undefined
    for (let attempt = 0; attempt < 20; attempt++) {
      const r = await runCommand(['doctor', '--site', 'osl1', '--json', '--timeout', '10s'], {env: env()})
      doctor = DoctorResult.parse(r.json())
      const cmdGroup = doctor.sites[0].replication.find((g) => g.stream === 'DV_CMD' && g.consumer === null)
      // Each group notices on its own: wait for DV_CMD's.
      if (cmdGroup?.followers.find((f) => f.name === victim.name)?.offline && r.exitCode === 0) break
      await new Promise((resolve) => setTimeout(resolve, 2000))
    }
    const warning = doctor!.sites[0].warnings.find((w) => w.code === 'replica-offline' && /DV_CMD/.test(w.message))
    expect(warning?.message, JSON.stringify(doctor!.sites[0].warnings)).toContain(victim.name)
    const cmd = doctor!.sites[0].replication.find((g) => g.stream === 'DV_CMD' && g.consumer === null)!
    expect(cmd.leader).not.toBe(victim.name)
    expect(cmd.followers.find((f) => f.name === victim.name)?.offline).toBe(true)

    const again = await runCommand(['sandbox', 'up', '--cluster', '3', '--sites', 'osl1', '--dir', dir, '--json'], {
      env: {DVCTL_CONFIG: join(root, 'unused.yaml')},
      timeoutMs: 180_000,
    })
    expect(again.exitCode, again.stderr).toBe(0)
    expect(SandboxResult.parse(again.json()).started).toEqual(['osl1'])
    const after = await runCommand(['sandbox', 'status', '--dir', dir, '--json'])
    expect(after.exitCode).toBe(0)
  })

  it('refuses another cluster size for an existing sandbox', async () => {
    const r = await runCommand(['sandbox', 'up', '--sites', 'osl1', '--dir', dir, '--json'])
    expect(r.exitCode).toBe(6)
    expect(r.json().error.code).toBe('sandbox-exists')
  })
})
