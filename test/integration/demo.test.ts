import {mkdtemp, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {DemoResult} from '../../src/lib/demo/run.js'
import {DlqListResult} from '../../src/lib/dlq/model.js'
import {DoctorResult} from '../../src/lib/doctor/check.js'
import {LayoutResult} from '../../src/lib/layout/apply.js'
import {WorkflowResult} from '../../src/lib/workflow/read.js'
import {runCommand} from '../helpers/run.js'
import {natsFixture, type NatsServerHandle} from '../helpers/nats.js'

describe('demo on a site without the layout', {timeout: 90_000}, () => {
  let server: NatsServerHandle
  let first: DemoResult
  beforeAll(async () => {
    server = await natsFixture({name: 'osl1'})
  })
  afterAll(async () => server?.dispose())

  it('on a named site that is not the sandbox, refuses without a terminal or --yes (exit 6), naming it, sending nothing', async () => {
    const r = await runCommand(['demo', '--server', server.url, '--json', '--step-delay', '0'])
    expect(r.exitCode, r.stdout + r.stderr).toBe(6)
    expect(r.json().error.message).toContain(`Run the demo on site 127.0.0.1:${server.port} (${server.url})?`)
    expect(r.json().error.hint).toContain('--yes')
    const plan = await runCommand(['layout', 'plan', '--server', server.url, '--json'])
    // Nothing was done there: not even the layout was applied.
    expect(LayoutResult.parse(plan.json()).changes.length).toBeGreaterThan(0)
  })

  it('applies the layout, succeeds a provisioning, dead-letters the poison command and prints the ids', async () => {
    const r = await runCommand(['demo', '--server', server.url, '--yes', '--json', '--step-delay', '0'])
    expect(r.stderr).toBe('')
    expect(r.exitCode).toBe(0)
    first = DemoResult.parse(r.json())
    expect(first.sites).toEqual([{site: expect.any(String), url: server.url, layout_changes: 16, layout_applied: true}])
    expect(first.workflows.map((w) => [w.kind, w.outcome])).toEqual([
      ['provisioning', 'succeeded'],
      ['poison', 'failed'],
    ])
    expect(first.dead_letter).toMatchObject({
      ref: `DV_CMD:${first.workflows[1].seq}`,
      consumer: 'plattform',
      reason: 'terminated',
      error: {code: 'unsupported-version'},
      // The demo's own dlq capture copied the original into the dead-letter archive.
      archived: true,
    })

    const plan = await runCommand(['layout', 'plan', '--server', server.url, '--json', '--fail-on-drift'])
    expect(plan.exitCode).toBe(0)
    expect(LayoutResult.parse(plan.json()).changes.every((c) => c.action === 'noop')).toBe(true)
  })

  it('leaves a succeeded provisioning workflow', async () => {
    const provisioning = first.workflows.find((w) => w.kind === 'provisioning')!
    const r = await runCommand(['workflow', 'show', provisioning.correlation_id, '--server', server.url, '--json'])
    expect(r.exitCode).toBe(0)
    const wf = WorkflowResult.parse(r.json())
    expect(wf.status).toBe('succeeded')
    const subjects = wf.messages.map((m) => m.subject)
    expect(subjects).toContain('dv.maskin.evt.server.provisioned')
    expect(subjects.filter((s) => s === 'dv.task.evt.progress')).toHaveLength(3)
  })

  it('leaves exactly one pending dead letter with the worker error', async () => {
    const r = await runCommand(['dlq', 'list', '--server', server.url, '--json'])
    expect(r.exitCode).toBe(0)
    const list = DlqListResult.parse(r.json())
    expect(list.dead_letters).toHaveLength(1)
    expect(list.dead_letters[0]).toMatchObject({
      ref: first.dead_letter.ref,
      status: 'pending',
      reason: 'terminated',
      subject: 'dv.plattform.cmd.deploy',
      failure: {code: 'unsupported-version', message: expect.stringContaining('1.12')},
    })
  })

  it('suggests commands that each run and exit 0 with the real ids', async () => {
    const argvs = first.next.map((n) => n.argv)
    expect(argvs.map((a) => (a[0] === 'doctor' ? a[0] : a.slice(0, 2).join(' ')))).toEqual([
      'workflow show',
      'task watch',
      'dlq list',
      'dlq replay',
      'doctor',
    ])
    expect(argvs.find((a) => a[1] === 'replay')).toContain('--dry-run')
    for (const next of first.next) {
      expect(next.command).toBe(['dvctl', ...next.argv].join(' '))
      const r = await runCommand(next.argv, {timeoutMs: 30_000})
      // The demo's capture stopped with it: doctor rightly says no capture runs on this site (exit 10).
      if (next.argv[0] === 'doctor') {
        expect(r.exitCode).toBe(10)
        const json = await runCommand([...next.argv, '--json'])
        expect(DoctorResult.parse(json.json()).sites[0].problems.map((p) => p.code)).toEqual(['dlq-originals-at-risk'])
        continue
      }
      expect({command: next.command, exitCode: r.exitCode, stderr: r.exitCode ? r.stderr : ''}).toEqual({
        command: next.command,
        exitCode: 0,
        stderr: '',
      })
    }
  })

  it('doctor reports the pending dead letter and no drift, and that no capture runs once the demo ended', async () => {
    const r = await runCommand(['doctor', '--server', server.url, '--json'])
    expect(r.exitCode).toBe(10)
    const [site] = DoctorResult.parse(r.json()).sites
    expect(site.problems.map((p) => p.code)).toEqual(['dlq-originals-at-risk'])
    expect(site.dlq_archive).toMatchObject({present: true, capture_running: false, last_heartbeat: expect.any(String)})
    expect(site.layout).toMatchObject({name: 'dataverket', drift: false})
    expect(site.dead_letters_pending).toBe(1)
    expect(site.warnings.map((w) => w.code)).toContain('dead-letters-pending')
  })

  it('runs again: one more succeeded workflow and one more pending dead letter, nothing replaced', async () => {
    const r = await runCommand(['demo', '--server', server.url, '--yes', '--json', '--step-delay', '0'])
    expect(r.exitCode).toBe(0)
    const second = DemoResult.parse(r.json())
    expect(second.sites[0]).toMatchObject({layout_changes: 0, layout_applied: false})
    expect(second.workflows[0].correlation_id).not.toBe(first.workflows[0].correlation_id)

    const wf = await runCommand([
      'workflow',
      'show',
      second.workflows[0].correlation_id,
      '--server',
      server.url,
      '--json',
    ])
    expect(WorkflowResult.parse(wf.json()).status).toBe('succeeded')
    const list = DlqListResult.parse((await runCommand(['dlq', 'list', '--server', server.url, '--json'])).json())
    expect(list.dead_letters.map((d) => d.ref)).toEqual([first.dead_letter.ref, second.dead_letter.ref])
  })

  it('human output names what happened and what to try next', async () => {
    const r = await runCommand(['demo', '--server', server.url, '--yes', '--step-delay', '0'])
    expect(r.exitCode).toBe(0)
    expect(r.stderr).toContain('layout dataverket already in place')
    expect(r.stdout).toContain('server provisioning')
    expect(r.stdout).toMatch(/dvctl dlq replay DV_CMD:\d+ --dry-run --server /)
    expect(r.stdout).toMatch(/dvctl workflow show [0-9a-f-]{36} --server /)
  })
})

describe('demo on two sites', {timeout: 90_000}, () => {
  let hub: NatsServerHandle
  let leaf: NatsServerHandle
  let dir: string
  let env: NodeJS.ProcessEnv
  beforeAll(async () => {
    hub = await natsFixture({name: 'osl1', leafListen: true})
    leaf = await natsFixture({name: 'trd1', leafRemotes: [hub.leafUrl!]})
    dir = await mkdtemp(join(tmpdir(), 'dvctl-demo-'))
    const config = join(dir, 'config.yaml')
    await writeFile(
      config,
      [
        'default_site: osl1',
        'sites:',
        `  osl1: {servers: ["${hub.url}"], js_domain: osl1}`,
        `  trd1: {servers: ["${leaf.url}"], js_domain: trd1}`,
        '',
      ].join('\n'),
    )
    env = {DVCTL_CONFIG: config, NATS_URL: ''}
  })
  afterAll(async () => {
    await leaf?.dispose()
    await hub?.dispose()
    if (dir) await rm(dir, {recursive: true, force: true})
  })

  it('applies a network change in both datacenters under one correlation', async () => {
    const r = await runCommand(['demo', '--site', 'osl1', '--site', 'trd1', '--yes', '--json', '--step-delay', '0'], {
      env,
    })
    expect(r.exitCode).toBe(0)
    const result = DemoResult.parse(r.json())
    const network = result.workflows.filter((w) => w.kind === 'network-apply')
    expect(network.map((w) => [w.site, w.outcome])).toEqual([
      ['osl1', 'succeeded'],
      ['trd1', 'succeeded'],
    ])
    expect(network[0].correlation_id).toBe(network[1].correlation_id)

    const show = result.next.find((n) => n.argv.includes(network[0].correlation_id))!
    expect(show.argv).toEqual(['workflow', 'show', network[0].correlation_id, '--site', 'osl1', '--site', 'trd1'])
    const wf = await runCommand([...show.argv, '--json'], {env})
    expect(wf.exitCode).toBe(0)
    const workflow = WorkflowResult.parse(wf.json())
    expect(workflow.status).toBe('succeeded')
    expect(new Set(workflow.messages.map((m) => m.site))).toEqual(new Set(['osl1', 'trd1']))
  })

  it('refuses an unreachable site the user named (exit 4), without starting a sandbox', async () => {
    const r = await runCommand(['demo', '--server', 'nats://127.0.0.1:1', '--timeout', '1s', '--json'], {env})
    expect(r.exitCode).toBe(4)
    expect(r.json().error.code).toBe('connection-refused')
  })
})
