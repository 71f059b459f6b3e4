// `layout apply --prune` deletes only what dvctl created for the layout (issue 13, item 9; issue 12, item 3):
// run against the nats-server on PATH, so once with Debian's 2.9.10 (the mark is a description suffix) and
// once with 2.15.2 (PATH=/root/.cache/dvctl-nats/v2.15.2:$PATH; the mark is `dvctl.layout` metadata).
import {mkdtemp, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {AdoptResult} from '../../src/lib/layout/adopt.js'
import {LayoutResult} from '../../src/lib/layout/apply.js'
import {dataverketLayout} from '../../src/lib/layout/dataverket.js'
import {
  DLQ_ARCHIVE_STREAM,
  DLQ_LEDGER_BUCKET,
  DLQ_RUNTIME_BUCKET,
  DLQ_TRIAGE_BUCKET,
  STREAMS,
} from '../../src/lib/layout/names.js'
import {ownerOf} from '../../src/lib/layout/ownership.js'
import {LayoutValidation} from '../../src/lib/layout/validate.js'
import {connectSite, type SiteConnection} from '../../src/lib/nats/connection.js'
import {supportsMetadata} from '../../src/lib/nats/server-version.js'
import {runCommand} from '../helpers/run.js'
import {changeActions, streamNamesOf, writeLayoutFile} from './layout-helpers.js'
import {natsFixture, type NatsServerHandle} from '../helpers/nats.js'

describe('layout --prune and ownership on the nats-server on PATH', {timeout: 120_000}, () => {
  let server: NatsServerHandle
  let conn: SiteConnection
  let dir: string
  let version: string
  const cli = (args: string[]) => runCommand([...args, '--server', server.url])
  const actions = changeActions
  const writeLayout = (name: string, layout: unknown) => writeLayoutFile(dir, name, layout)
  const streamNames = () => streamNamesOf(conn)
  const consumerNames = async (stream: string) => {
    const names: string[] = []
    for await (const c of (await conn.jsm()).consumers.list(stream)) names.push(c.name)
    return names.sort()
  }

  beforeAll(async () => {
    server = await natsFixture({name: 'prune1'})
    conn = await connectSite({name: 'prune1', servers: [server.url]}, {timeoutMs: 5000})
    version = conn.nc.info!.version
    dir = await mkdtemp(join(tmpdir(), 'dvctl-prune-test-'))
  })
  afterAll(async () => {
    await conn?.close()
    await server?.dispose()
    await rm(dir, {recursive: true, force: true})
  })

  it('marks what apply creates, where the server version keeps it, and plans no drift for the mark', async () => {
    const applied = await cli(['layout', 'apply', '--yes', '--json'])
    expect(applied.exitCode, applied.stderr).toBe(0)
    const result = LayoutResult.parse(applied.json())
    expect(result.done).toHaveLength(16)
    expect(result.failed).toEqual([])

    const jsm = await conn.jsm()
    const cmd = (await jsm.streams.info(STREAMS.cmd)).config
    const maskin = (await jsm.consumers.info(STREAMS.cmd, 'maskin')).config
    const ledger = (await jsm.streams.info(`KV_${DLQ_LEDGER_BUCKET}`)).config
    for (const config of [cmd, maskin, ledger]) {
      if (supportsMetadata(version)) {
        expect(config.metadata?.['dvctl.layout']).toBe('dataverket')
        expect(config.description ?? '').not.toContain('dvctl')
      } else {
        expect(config.metadata).toBeUndefined()
        expect(config.description).toBe('[dvctl:layout=dataverket]')
      }
      expect(ownerOf(config)).toBe('dataverket')
    }

    const plan = await cli(['layout', 'plan', '--prune', '--fail-on-drift', '--json'])
    expect(plan.exitCode, plan.stdout + plan.stderr).toBe(0)
    expect(actions(LayoutResult.parse(plan.json()))).toEqual([])

    // A declared description is compared without the mark, and an update keeps the mark.
    const described = dataverketLayout()
    described.streams.DV_EVT.description = 'Integration events'
    const file = await writeLayout('described.yaml', described)
    expect((await cli(['layout', 'apply', file, '--yes'])).exitCode).toBe(0)
    const evt = (await jsm.streams.info(STREAMS.evt)).config
    expect(ownerOf(evt)).toBe('dataverket')
    expect(evt.description).toBe(
      supportsMetadata(version) ? 'Integration events' : 'Integration events [dvctl:layout=dataverket]',
    )
    const again = await cli(['layout', 'plan', file, '--prune', '--fail-on-drift', '--json'])
    expect(again.exitCode, again.stdout).toBe(0)
    const exported = await cli(['layout', 'export', '--json'])
    expect(exported.json().streams.DV_EVT.description).toBe('Integration events')
  })

  it('--prune never proposes a foreign stream or consumer, the ledger, or sourcing internals', async () => {
    const jsm = await conn.jsm()
    // Someone else's stream and consumer, and a stream that sources DV_EVT (the server adds its own consumer).
    await jsm.streams.add({name: 'ORDERS', subjects: ['orders.>']})
    await jsm.consumers.add(STREAMS.cmd, {durable_name: 'adhoc', ack_policy: 'explicit'})
    await jsm.streams.add({name: 'EVT_COPY', sources: [{name: STREAMS.evt}]})
    // A stream the layout created and no longer declares: the only thing --prune may take.
    const withScratch = dataverketLayout()
    withScratch.streams.SCRATCH = {subjects: ['scratch.>']}
    withScratch.streams.DV_CMD.consumers!.retired = {ack_policy: 'explicit', filter_subject: 'dv.retired.cmd.>'}
    expect((await cli(['layout', 'apply', await writeLayout('scratch.yaml', withScratch), '--yes'])).exitCode).toBe(0)

    // A layout named dataverket that no longer declares the ledger still never proposes it.
    const noLedger = dataverketLayout()
    noLedger.kv = {}
    const planned = await cli(['layout', 'plan', await writeLayout('no-ledger.yaml', noLedger), '--prune', '--json'])
    expect(planned.exitCode).toBe(0)
    const plan = LayoutResult.parse(planned.json())
    expect(actions(plan)).toEqual(['delete consumer DV_CMD/retired', 'delete stream SCRATCH'])
    expect(plan.unmanaged.map((u) => `${u.kind} ${u.name} ${u.reason}`)).toEqual([
      'consumer adhoc not-owned',
      'stream EVT_COPY not-owned',
      'stream ORDERS not-owned',
      `kv ${DLQ_LEDGER_BUCKET} audit-trail`,
      `kv ${DLQ_RUNTIME_BUCKET} audit-trail`,
      `kv ${DLQ_TRIAGE_BUCKET} audit-trail`,
    ])

    const human = await cli(['layout', 'plan', '--prune'])
    expect(human.stdout).toContain('- stream SCRATCH')
    expect(human.stdout).not.toContain('- stream ORDERS')
    expect(human.stdout).toContain('not created by dvctl for layout dataverket, kept: consumer DV_CMD/adhoc')

    const pruned = await cli(['layout', 'apply', '--prune', '--yes', '--json'])
    expect(pruned.exitCode, pruned.stderr).toBe(0)
    expect(actions(LayoutResult.parse(pruned.json()))).toEqual([
      'delete consumer DV_CMD/retired',
      'delete stream SCRATCH',
    ])
    expect(await streamNames()).toEqual(
      [
        'DV_CMD',
        'DV_DLQ',
        DLQ_ARCHIVE_STREAM,
        'DV_EVT',
        'DV_TASK',
        'EVT_COPY',
        `KV_${DLQ_LEDGER_BUCKET}`,
        `KV_${DLQ_RUNTIME_BUCKET}`,
        `KV_${DLQ_TRIAGE_BUCKET}`,
        'ORDERS',
      ].sort(),
    )
    expect(await consumerNames(STREAMS.cmd)).toContain('adhoc')
    expect(await consumerNames(STREAMS.cmd)).not.toContain('retired')
    // A second prune has nothing left to propose.
    const after = await cli(['layout', 'plan', '--prune', '--fail-on-drift', '--json'])
    expect(after.exitCode, after.stdout).toBe(0)
  })

  it('an unnamed layout cannot prune (exit 2, before connecting)', async () => {
    const file = await writeLayout('unnamed.yaml', {streams: {A: {subjects: ['a.>']}}})
    const r = await runCommand(['layout', 'plan', file, '--prune', '--json', '--server', 'nats://127.0.0.1:1'])
    expect(r.exitCode).toBe(2)
    expect(r.json().error.code).toBe('layout-unnamed')
  })

  it('adopts objects created before the marking, so that --prune may then take them', async () => {
    const jsm = await conn.jsm()
    await jsm.streams.add({name: 'LEGACY', subjects: ['legacy.>'], description: 'Legacy stream'})
    await jsm.consumers.add('LEGACY', {durable_name: 'reader', ack_policy: 'explicit'})
    const legacy = {
      layout: 'legacy',
      streams: {LEGACY: {subjects: ['legacy.>'], description: 'Legacy stream', consumers: {reader: {}}}},
      kv: {},
    }
    const legacyFile = await writeLayout('legacy.yaml', legacy)
    const emptied = await writeLayout('legacy-emptied.yaml', {layout: 'legacy', kv: {dv_other: {history: 1}}})

    // Not adopted yet: not the layout's to delete.
    const before = LayoutResult.parse((await cli(['layout', 'plan', emptied, '--prune', '--json'])).json())
    expect(actions(before).filter((a) => a.startsWith('delete'))).toEqual([])
    expect(before.unmanaged).toContainEqual({kind: 'stream', name: 'LEGACY', owner: null, reason: 'not-owned'})

    const dry = await cli(['layout', 'adopt', legacyFile, '--dry-run', '--json'])
    expect(dry.exitCode, dry.stderr).toBe(0)
    expect(AdoptResult.parse(dry.json())).toMatchObject({
      layout: 'legacy',
      dry_run: true,
      adopted: [
        {kind: 'stream', name: 'LEGACY'},
        {kind: 'consumer', name: 'reader', stream: 'LEGACY'},
      ],
    })
    expect(ownerOf((await jsm.streams.info('LEGACY')).config)).toBeNull()
    expect((await cli(['layout', 'adopt', legacyFile])).exitCode).toBe(6)

    const adopted = await cli(['layout', 'adopt', legacyFile, '--yes', '--json'])
    expect(adopted.exitCode, adopted.stderr).toBe(0)
    expect(AdoptResult.parse(adopted.json()).adopted).toHaveLength(2)
    const info = (await jsm.streams.info('LEGACY')).config
    expect(ownerOf(info)).toBe('legacy')
    expect(info.subjects).toEqual(['legacy.>'])
    expect(ownerOf((await jsm.consumers.info('LEGACY', 'reader')).config)).toBe('legacy')
    // The mark is not drift, and adopting again changes nothing; ORDERS is not the legacy layout's.
    const plan = await cli(['layout', 'plan', legacyFile, '--fail-on-drift', '--json'])
    expect(plan.exitCode, plan.stdout).toBe(0)
    const twice = AdoptResult.parse((await cli(['layout', 'adopt', legacyFile, '--yes', '--json'])).json())
    expect(twice.adopted).toEqual([])
    expect(twice.already).toHaveLength(2)
    const claimOthers = await writeLayout('claim.yaml', {layout: 'legacy', streams: {DV_CMD: {}}})
    const refusedClaim = AdoptResult.parse((await cli(['layout', 'adopt', claimOthers, '--yes', '--json'])).json())
    expect(refusedClaim.skipped).toEqual([{kind: 'stream', name: 'DV_CMD', reason: 'marked for layout dataverket'}])

    const pruned = await cli(['layout', 'apply', emptied, '--prune', '--yes', '--json'])
    expect(pruned.exitCode, pruned.stderr).toBe(0)
    expect(actions(LayoutResult.parse(pruned.json()))).toEqual(['create kv dv_other', 'delete stream LEGACY'])
    expect(await streamNames()).not.toContain('LEGACY')
    expect(await streamNames()).toContain('ORDERS')
  })
})

describe(
  'an empty layout file is refused by plan, apply and validate (exit 2), nothing written',
  {timeout: 60_000},
  () => {
    let server: NatsServerHandle
    let conn: SiteConnection
    let dir: string
    beforeAll(async () => {
      server = await natsFixture({name: 'empty1', layout: true})
      conn = await connectSite({name: 'empty1', servers: [server.url]}, {timeoutMs: 5000})
      await (await conn.jsm()).streams.add({name: 'ORDERS', subjects: ['orders.>']})
      dir = await mkdtemp(join(tmpdir(), 'dvctl-empty-layout-'))
    })
    afterAll(async () => {
      await conn?.close()
      await server?.dispose()
      await rm(dir, {recursive: true, force: true})
    })

    it.each([
      ['0 bytes', ''],
      ['whitespace only', ' \n\n\t  \n'],
    ])('%s', async (what, text) => {
      const file = join(dir, `${what}.yaml`)
      await writeFile(file, text)
      const before: string[] = []
      for await (const s of (await conn.jsm()).streams.list()) before.push(`${s.config.name}:${s.state.consumer_count}`)

      for (const args of [
        ['layout', 'plan', file, '--prune', '--json', '--server', server.url],
        ['layout', 'apply', file, '--prune', '--yes', '--json', '--server', server.url],
      ]) {
        const r = await runCommand(args)
        expect(r.exitCode, r.stdout).toBe(2)
        expect(r.json().error).toMatchObject({code: 'invalid-layout', message: expect.stringContaining('empty')})
      }
      const v = await runCommand(['layout', 'validate', file, '--json'])
      expect(v.exitCode).toBe(2)
      expect(LayoutValidation.parse(v.json()).problems[0].message).toContain('the file is empty')
      const human = await runCommand(['layout', 'apply', file, '--prune', '--yes', '--server', server.url])
      expect(human.exitCode).toBe(2)
      expect(human.stderr).toContain('the file is empty')

      const after: string[] = []
      for await (const s of (await conn.jsm()).streams.list()) after.push(`${s.config.name}:${s.state.consumer_count}`)
      expect(after.sort()).toEqual(before.sort())
      expect(after).toHaveLength(9)
    })
  },
)
