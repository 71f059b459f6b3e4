import {mkdtemp, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {stringify} from 'yaml'

import {applyPlan, LayoutResult, planSite} from '../../src/lib/layout/apply.js'
import {dataverketLayout} from '../../src/lib/layout/dataverket.js'
import {DLQ_LEDGER_BUCKET, STREAMS} from '../../src/lib/layout/names.js'
import {LayoutValidation} from '../../src/lib/layout/validate.js'
import {connectSite, type SiteConnection} from '../../src/lib/nats/connection.js'
import {freePort} from '../../src/lib/sandbox/nats-server.js'
import {runCommand} from '../helpers/run.js'
import {changeActions, writeLayoutFile} from './layout-helpers.js'
import {natsFixture, type NatsServerHandle} from '../helpers/nats.js'

const NS_PER_DAY = 86_400_000_000_000

// Each test runs the real binary a few times; generous bounds keep a loaded CI machine from failing them.
describe('layout apply, plan and export against a fresh nats-server', {timeout: 120_000}, () => {
  let server: NatsServerHandle
  let conn: SiteConnection
  let dir: string
  const cli = (args: string[]) => runCommand([...args, '--server', server.url])
  const actions = changeActions
  const writeLayout = (name: string, layout: unknown) => writeLayoutFile(dir, name, layout)

  /** Puts the site back to the built-in layout in-process (not what these tests are about). */
  const restoreBuiltIn = async () => {
    const {declared, plan} = await planSite(conn)
    expect((await applyPlan(conn, declared, plan, {allowRecreate: true})).failed).toEqual([])
  }

  beforeAll(async () => {
    server = await natsFixture({name: 'osl1'})
    conn = await connectSite({name: 'osl1', servers: [server.url]}, {timeoutMs: 5000})
    dir = await mkdtemp(join(tmpdir(), 'dvctl-layout-test-'))
  })
  afterAll(async () => {
    await conn?.close()
    await server?.dispose()
  })

  it('apply --yes creates the dataverket streams, consumers and ledger bucket of the standard layout (docs/operations.md, "Layouts")', async () => {
    const r = await cli(['layout', 'apply', '--yes', '--json'])
    expect(r.exitCode).toBe(0)
    const result = LayoutResult.parse(r.json())
    expect(result).toMatchObject({site: 'osl1', layout: 'dataverket', applied: true, failed: []})
    expect(result.changes.every((c) => c.action === 'create')).toBe(true)
    expect(result.changes).toHaveLength(16)

    const jsm = await conn.jsm()
    const cmd = (await jsm.streams.info(STREAMS.cmd)).config
    expect(cmd).toMatchObject({subjects: ['dv.*.cmd.>'], retention: 'limits', storage: 'file'})
    expect(cmd.max_age).toBe(14 * NS_PER_DAY)
    expect(cmd.duplicate_window).toBe(120_000_000_000)
    const evt = (await jsm.streams.info(STREAMS.evt)).config
    expect(evt.subjects).toHaveLength(7)
    expect(evt.subjects).toContain('dv.maskin.evt.>')
    expect(evt.max_age).toBe(30 * NS_PER_DAY)
    expect((await jsm.streams.info(STREAMS.task)).config.subjects).toEqual(['dv.task.evt.>'])
    expect((await jsm.streams.info(STREAMS.dlq)).config.subjects).toEqual([
      '$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.>',
      '$JS.EVENT.ADVISORY.CONSUMER.MSG_TERMINATED.>',
    ])
    const consumers: string[] = []
    for await (const ci of jsm.consumers.list(STREAMS.cmd)) consumers.push(ci.name)
    expect(consumers.sort()).toEqual(['identitet', 'maskin', 'nett', 'objekt', 'plattform', 'sentral', 'tjeneste'])
    const maskin = (await jsm.consumers.info(STREAMS.cmd, 'maskin')).config
    expect(maskin).toMatchObject({filter_subject: 'dv.maskin.cmd.>', ack_policy: 'explicit', max_deliver: 5})
    expect(maskin.backoff).toEqual([1e9, 5e9, 30e9, 120e9])
    expect((await jsm.streams.info(`KV_${DLQ_LEDGER_BUCKET}`)).config.max_msgs_per_subject).toBe(64)
  })

  it('a second apply and a plan report no changes', async () => {
    const again = await cli(['layout', 'apply', '--yes', '--json'])
    expect(again.exitCode).toBe(0)
    expect(actions(LayoutResult.parse(again.json()))).toEqual([])
    const plan = await cli(['layout', 'plan', '--fail-on-drift'])
    expect(plan.exitCode).toBe(0)
    expect(plan.stdout).toContain('No changes. Site osl1 matches the layout (16 objects).')
  })

  it('plans and applies a changed max_age as an update', async () => {
    const layout = dataverketLayout()
    layout.streams.DV_EVT.max_age = '7d'
    const file = await writeLayout('evt-7d.yaml', layout)
    const human = await cli(['layout', 'plan', file, '--fail-on-drift'])
    expect(human.exitCode).toBe(10)
    expect(human.stdout).toContain('~ stream DV_EVT')
    expect(human.stdout).toContain('max_age: "30d" -> "7d"')
    expect(human.stdout).toContain('Plan: 0 to create, 1 to update, 0 to recreate, 0 to delete; 15 unchanged.')

    const apply = await cli(['layout', 'apply', file, '--yes', '--json'])
    expect(apply.exitCode).toBe(0)
    const applied = LayoutResult.parse(apply.json())
    expect(actions(applied)).toEqual(['update stream DV_EVT'])
    expect(applied.changes.find((c) => c.name === 'DV_EVT')!.diff).toEqual([{field: 'max_age', from: '30d', to: '7d'}])
    expect((await (await conn.jsm()).streams.info(STREAMS.evt)).config.max_age).toBe(7 * NS_PER_DAY)
    // A summary of a change names the site and its URL (this puts the built-in max_age back).
    const again = await cli(['layout', 'apply', '--yes'])
    expect(again.stdout).toContain(`Applied on site 127.0.0.1:${server.port} (${server.url}): 0 created, 1 updated`)
    await restoreBuiltIn()
  })

  it('refuses a storage change without --allow-recreate, leaving the stream and its messages untouched', async () => {
    const js = await conn.js()
    await js.publish('dv.task.evt.created', JSON.stringify({n: 1}))
    await js.publish('dv.task.evt.started', JSON.stringify({n: 2}))
    const layout = dataverketLayout()
    layout.streams.DV_TASK.storage = 'memory'
    const file = await writeLayout('task-memory.yaml', layout)

    const refused = await cli(['layout', 'apply', file, '--yes'])
    expect(refused.exitCode).toBe(6)
    expect(refused.stdout).toContain('-/+ stream DV_TASK  (recreating deletes all of its messages)')
    expect(refused.stdout).toContain('storage: "file" -> "memory"  # forces recreate')
    expect(refused.stderr).toContain('recreating a stream deletes all of its messages')
    expect(refused.stderr).toContain('--allow-recreate')
    const info = await (await conn.jsm()).streams.info(STREAMS.task)
    expect(info.config.storage).toBe('file')
    expect(info.state.messages).toBe(2)

    const allowed = await cli(['layout', 'apply', file, '--yes', '--allow-recreate', '--json'])
    expect(allowed.exitCode).toBe(0)
    const recreated = LayoutResult.parse(allowed.json())
    expect(actions(recreated)).toEqual(['recreate stream DV_TASK'])
    expect(recreated.changes.find((c) => c.name === 'DV_TASK')!.diff).toEqual([
      {field: 'storage', from: 'file', to: 'memory', forces_recreate: true},
    ])
    const after = await (await conn.jsm()).streams.info(STREAMS.task)
    expect(after.config.storage).toBe('memory')
    expect(after.state.messages).toBe(0)
    await restoreBuiltIn()
  })

  it('refuses to apply without --yes when there is no terminal, changing nothing', async () => {
    const layout = dataverketLayout()
    layout.streams.DV_DLQ.max_age = '60d'
    const file = await writeLayout('dlq-60d.yaml', layout)
    const r = await cli(['layout', 'apply', file, '--json'])
    expect(r.exitCode).toBe(6)
    expect(r.json().error.code).toBe('confirmation-required')
    expect((await (await conn.jsm()).streams.info(STREAMS.dlq)).config.max_age).toBe(30 * NS_PER_DAY)
  })

  it('keeps a live stream missing from the layout, and deletes it only with --prune after confirmation', async () => {
    const jsm = await conn.jsm()
    // Created by dvctl for the dataverket layout, then dropped from it: --prune may delete it.
    const withScratch = dataverketLayout()
    withScratch.streams.SCRATCH = {subjects: ['scratch.>']}
    expect((await cli(['layout', 'apply', await writeLayout('scratch.yaml', withScratch), '--yes'])).exitCode).toBe(0)
    const kept = await cli(['layout', 'apply', '--yes', '--json'])
    expect(kept.exitCode).toBe(0)
    expect(LayoutResult.parse(kept.json()).unmanaged).toEqual([
      {kind: 'stream', name: 'SCRATCH', owner: 'dataverket', reason: 'prune-not-given'},
    ])
    expect((await jsm.streams.info('SCRATCH')).config.name).toBe('SCRATCH')

    const unconfirmed = await cli(['layout', 'apply', '--prune'])
    expect(unconfirmed.exitCode).toBe(6)
    expect(unconfirmed.stdout).toContain('- stream SCRATCH')
    expect((await jsm.streams.info('SCRATCH')).config.name).toBe('SCRATCH')

    const pruned = await cli(['layout', 'apply', '--prune', '--yes', '--json'])
    expect(pruned.exitCode).toBe(0)
    expect(actions(LayoutResult.parse(pruned.json()))).toEqual(['delete stream SCRATCH'])
    const names: string[] = []
    for await (const s of jsm.streams.list()) names.push(s.config.name)
    expect(names).not.toContain('SCRATCH')
    expect(names).toContain(STREAMS.cmd)
  })

  it('exports a layout that plans as unchanged', async () => {
    const exported = await cli(['layout', 'export'])
    expect(exported.exitCode).toBe(0)
    expect(exported.stdout).toContain('DV_CMD:')
    const file = join(dir, 'exported.yaml')
    await writeFile(file, exported.stdout)
    const plan = await cli(['layout', 'plan', file, '--fail-on-drift', '--json'])
    expect(plan.exitCode).toBe(0)
    const result = LayoutResult.parse(plan.json())
    expect(result.changes).toHaveLength(16)
    expect(actions(result)).toEqual([])
    expect(result.unmanaged).toEqual([])
  })

  it('--site takes one value per flag: layout plan --site osl1 FILE plans FILE on osl1', async () => {
    const config = join(dir, 'config.yaml')
    await writeFile(config, `sites:\n  osl1: {servers: ["${server.url}"]}\n`)
    const file = await writeLayout('site-flag.yaml', {...dataverketLayout(), layout: 'site-flag-check'})
    const r = await runCommand(['layout', 'plan', '--site', 'osl1', file, '--json'], {env: {DVCTL_CONFIG: config}})
    expect(r.exitCode, r.stdout + r.stderr).toBe(0)
    expect(LayoutResult.parse(r.json())).toMatchObject({site: 'osl1', layout: 'site-flag-check'})
  })

  it('validates a good file without connecting', async () => {
    const file = await writeLayout('good.yaml', dataverketLayout())
    const r = await runCommand(['layout', 'validate', file, '--json'])
    expect(r.exitCode).toBe(0)
    expect(LayoutValidation.parse(r.json())).toMatchObject({valid: true, layout: 'dataverket', consumers: 8})
  })
})

describe('invalid layout files are rejected before any connection', {timeout: 60_000}, () => {
  let dir: string
  let nowhere: string
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dvctl-layout-bad-'))
    // Nothing listens here: a connection attempt would be exit 4, not 2.
    nowhere = `nats://127.0.0.1:${await freePort()}`
  })

  it('plan rejects an invalid file the same way', async () => {
    const file = join(dir, 'plan-bad.yaml')
    await writeFile(file, stringify({kv: {ledger: {history: 'lots'}}}))
    const r = await runCommand(['layout', 'plan', file, '--server', nowhere, '--json'])
    expect(r.exitCode).toBe(2)
    expect(r.json().error).toMatchObject({
      code: 'invalid-layout',
      message: expect.stringContaining('kv.ledger.history'),
    })
  })

  it.each([
    ['unknown key', {streams: {A: {subjects: ['a.>'], retension: 'limits'}}}, 'streams.A.retension', 'unknown key'],
    ['bad duration', {streams: {A: {subjects: ['a.>'], max_age: 'two weeks'}}}, 'streams.A.max_age', 'not a duration'],
    [
      'overlapping subjects',
      {streams: {A: {subjects: ['dv.*.cmd.>']}, B: {subjects: ['dv.maskin.cmd.>']}}},
      'streams.B.subjects.0',
      'overlaps "dv.*.cmd.>" of stream A',
    ],
  ])('%s', async (_what, layout, path, message) => {
    const file = join(dir, `${path}.yaml`)
    await writeFile(file, stringify(layout))
    const r = await runCommand(['layout', 'apply', file, '--yes', '--server', nowhere])
    expect(r.exitCode).toBe(2)
    expect(r.stderr).toContain(`${path}: `)
    expect(r.stderr).toContain(message)
    expect(r.stderr).not.toMatch(/at .*\.js:\d+/)
    const v = await runCommand(['layout', 'validate', file, '--json'])
    expect(v.exitCode).toBe(2)
    expect(LayoutValidation.parse(v.json()).problems).toContainEqual({path, message: expect.stringContaining(message)})
  })
})
