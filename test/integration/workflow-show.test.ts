import {mkdtemp, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import type {NatsConnection} from '@nats-io/transport-node'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {freePort} from '../../src/lib/sandbox/nats-server.js'
import {WorkflowResult} from '../../src/lib/workflow/read.js'
import {TailLine} from '../../src/lib/workflow/tail.js'
import {runCommand} from '../helpers/run.js'
import {natsFixture, type NatsServerHandle} from '../helpers/nats.js'
import {connectTo, ensureStreams, publish, seedWorkflow, type SeededWorkflow} from './workflow-seed.js'

// Upper bounds only: on an idle machine each test takes a second or two.
describe('workflow show and tail --correlation across two sites', {timeout: 120_000}, () => {
  let osl1: NatsServerHandle
  let trd1: NatsServerHandle
  let a: NatsConnection
  let b: NatsConnection
  let seeded: SeededWorkflow
  let dir: string
  let config: string
  let halfDownConfig: string

  beforeAll(async () => {
    ;[osl1, trd1] = await Promise.all([natsFixture({name: 'osl1'}), natsFixture({name: 'trd1'})])
    ;[a, b] = await Promise.all([connectTo(osl1.url), connectTo(trd1.url)])
    await Promise.all([ensureStreams(a), ensureStreams(b)])
    seeded = await seedWorkflow(a, b, 3000)
    // Not part of the workflow, though they carry its id in the payload: must not appear.
    await publish(a, 'dv.maskin.cmd.provision', 'not json ' + seeded.correlationId)
    dir = await mkdtemp(join(tmpdir(), 'dvctl-wf-'))
    config = join(dir, 'config.yaml')
    await writeFile(
      config,
      `default_site: osl1\nsites:\n  osl1: {servers: ["${osl1.url}"], js_domain: osl1}\n  trd1: {servers: ["${trd1.url}"], js_domain: trd1}\n`,
    )
    halfDownConfig = join(dir, 'half.yaml')
    await writeFile(
      halfDownConfig,
      `default_site: osl1\nsites:\n  osl1: {servers: ["${osl1.url}"], js_domain: osl1}\n  trd1: {servers: ["nats://127.0.0.1:${await freePort()}"], js_domain: trd1}\n`,
    )
  })
  afterAll(async () => {
    await Promise.allSettled([a?.close(), b?.close()])
    await Promise.allSettled([osl1?.dispose(), trd1?.dispose(), dir && rm(dir, {recursive: true, force: true})])
  })

  it('finds the whole workflow on both sites with --all-sites, as JSON', async () => {
    const r = await runCommand(['workflow', 'show', seeded.correlationId, '--all-sites', '--json'], {
      env: {DVCTL_CONFIG: config},
    })
    expect(r.stderr).toBe('')
    expect(r.exitCode, r.stderr).toBe(0)
    const result = WorkflowResult.parse(r.json())
    expect(result.messages.map((m) => m.id).sort()).toEqual([...seeded.siteA, ...seeded.siteB].sort())
    const remote = result.messages.find((m) => m.id === seeded.ids.remoteCommand)!
    expect(remote).toMatchObject({site: 'trd1', stream: 'DV_CMD', causation_id: seeded.ids.event})
    const eventNode = result.tree[0].children.find((n) => n.id === seeded.ids.event)!
    expect(eventNode.children.map((n) => n.id)).toEqual([seeded.ids.remoteCommand])
    expect(result.orphans).toEqual([seeded.ids.orphan])
    expect(result.status).toBe('dead-lettered')
    expect(result.sites).toEqual([{site: 'osl1'}, {site: 'trd1'}])
  })

  it('draws the tree for people, with marks for failures, dead letters and orphans', async () => {
    const r = await runCommand(['workflow', 'show', seeded.correlationId, '--site', 'osl1', '--site', 'trd1'], {
      env: {DVCTL_CONFIG: config},
    })
    expect(r.exitCode, r.stderr).toBe(0)
    const lines = r.stdout.split('\n')
    expect(lines[0]).toContain(`Workflow ${seeded.correlationId}  dead-lettered`)
    const line = (id: string) => lines.find((l) => l.includes(id.slice(0, 8)))!
    expect(line(seeded.ids.command)).toMatch(/^\s*\+0\.000s {2}osl1 {2}dv\.maskin\.cmd\.provision/)
    expect(line(seeded.ids.remoteCommand)).toMatch(
      /│\s+└─ .*trd1 {2}dv\.nett\.cmd\.apply .*☠ dead letter \(max_deliveries, 5 deliveries\).*×2 delivered/,
    )
    expect(line(seeded.ids.remoteTaskFailed)).toContain('✗ failed: no free VLAN')
    expect(line(seeded.ids.orphan)).toContain('? parent not seen')
    expect(r.stdout).toContain('orphans: 1 (parent not seen)')
  })

  it('shows a timeline in time order', async () => {
    const r = await runCommand(['workflow', 'show', seeded.correlationId, '--all-sites', '--view', 'timeline'], {
      env: {DVCTL_CONFIG: config},
    })
    expect(r.exitCode, r.stderr).toBe(0)
    const times = r.stdout
      .split('\n')
      .slice(1)
      .filter((l) => /^\d{4}-/.test(l))
      .map((l) => l.slice(0, 24))
    expect(times).toHaveLength(8)
    expect([...times].sort()).toEqual(times)
  })

  it('with one site unreachable, gives the other site’s part, a warning and exit 0', async () => {
    const r = await runCommand(['workflow', 'show', seeded.correlationId, '--all-sites', '--json', '--timeout', '1s'], {
      env: {DVCTL_CONFIG: halfDownConfig},
    })
    expect(r.exitCode, r.stderr).toBe(0)
    expect(r.stderr).toMatch(/Warning: .*trd1.*connection refused/)
    const result = WorkflowResult.parse(r.json())
    expect(result.messages.map((m) => m.id).sort()).toEqual([...seeded.siteA].sort())
    expect(result.sites).toEqual([{site: 'osl1'}, {site: 'trd1', error: expect.stringContaining('connection refused')}])
    expect(result.status).toBe('succeeded')
  })

  it('exits 5 when no message has the correlation id', async () => {
    const r = await runCommand(['workflow', 'show', 'no-such-workflow', '--all-sites'], {env: {DVCTL_CONFIG: config}})
    expect(r.exitCode).toBe(5)
    expect(r.stderr).toContain('No message with correlation_id no-such-workflow')
    expect(r.stderr).toContain('Hint:')
  })

  it('refuses a bad --from with exit 2', async () => {
    const r = await runCommand(['workflow', 'show', 'x', '--from', 'yesterday'], {env: {DVCTL_CONFIG: config}})
    expect(r.exitCode).toBe(2)
    expect(r.stderr).toContain('Invalid --from "yesterday"')
  })

  it('tail --correlation prints the same messages (the duplicate delivery too)', async () => {
    const r = await runCommand(['tail', '--correlation', seeded.correlationId, '--all-sites', '--json'], {
      env: {DVCTL_CONFIG: config},
    })
    expect(r.exitCode, r.stderr).toBe(0)
    const lines = r.lines().map((l) => TailLine.parse(l))
    const valid = lines.filter((l) => !('invalid' in l))
    const ids = valid.map((l) => ('envelope' in l ? String(l.envelope.id) : ''))
    expect([...new Set(ids)].sort()).toEqual([...seeded.siteA, ...seeded.siteB].sort())
    expect(ids.filter((id) => id === seeded.ids.remoteCommand)).toHaveLength(2)
    // History is merged in stored-time order across sites.
    const times = lines.map((l) => l.time)
    expect([...times].sort()).toEqual(times)
    // The non-JSON message that contains the id passes the byte filter and is shown as invalid.
    expect(lines.filter((l) => 'invalid' in l)).toEqual([
      expect.objectContaining({
        site: 'osl1',
        subject: 'dv.maskin.cmd.provision',
        invalid: true,
        problems: [expect.objectContaining({code: 'not-json'})],
      }),
    ])
  })
})
