import {mkdtemp} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {LayoutResult} from '../../src/lib/layout/apply.js'
import type {LayoutInput} from '../../src/lib/layout/schema.js'
import {connectSite, type SiteConnection} from '../../src/lib/nats/connection.js'
import {serverAtLeast} from '../../src/lib/nats/server-version.js'
import {runCommand} from '../helpers/run.js'
import {streamNamesOf, writeLayoutFile} from './layout-helpers.js'
import {natsFixture, type NatsServerHandle} from '../helpers/nats.js'

/**
 * The layout fields of nats-server 2.10-2.15 against whichever server is on PATH (2.9.10 or 2.15.2):
 * a new server applies them and then plans nothing; an old one refuses the layout before any write.
 * The version comes from the server itself, not from the environment.
 */
describe('layout fields of 2.10-2.15 on a real server', {timeout: 300_000}, () => {
  let server: NatsServerHandle
  let conn: SiteConnection
  let dir: string
  let version: string
  const cli = (args: string[]) => runCommand([...args, '--server', server.url])
  const writeLayout = (name: string, layout: unknown) => writeLayoutFile(dir, name, layout)
  const streamNames = () => streamNamesOf(conn)
  const notNoop = (r: LayoutResult) => r.changes.filter((c) => c.action !== 'noop')

  /** The must-show layout: compression, stream and consumer metadata, allow_msg_ttl, filter_subjects. */
  const recentLayout = (): LayoutInput => ({
    layout: 'recent',
    streams: {
      ORDERS: {
        subjects: ['orders.>'],
        compression: 's2',
        metadata: {team: 'ordre', tier: 'gold'},
        allow_msg_ttl: true,
        consumers: {
          shipping: {
            ack_policy: 'explicit',
            filter_subjects: ['orders.created', 'orders.paid'],
            metadata: {owner: 'frakt'},
          },
        },
      },
    },
    kv: {settings: {compression: 's2', metadata: {team: 'ordre'}}},
  })

  /** The same, changed in place: compression off, metadata and one filter replaced. */
  const changedLayout = (): LayoutInput => {
    const layout = recentLayout()
    layout.streams!.ORDERS.compression = 'none'
    layout.streams!.ORDERS.metadata = {team: 'lager'}
    layout.streams!.ORDERS.consumers!.shipping.filter_subjects = ['orders.created', 'orders.shipped']
    return layout
  }

  beforeAll(async () => {
    server = await natsFixture({name: 'osl1'})
    conn = await connectSite({name: 'osl1', servers: [server.url]}, {timeoutMs: 5000})
    version = conn.nc.info!.version
    dir = await mkdtemp(join(tmpdir(), 'dvctl-layout-recent-'))
  })
  afterAll(async () => {
    await conn?.close()
    await server?.dispose()
  })

  it('applies the standard layout, after which plan (also with --prune) reports no drift', async () => {
    const apply = await cli(['layout', 'apply', '--yes', '--json'])
    expect(apply.exitCode).toBe(0)
    expect(LayoutResult.parse(apply.json()).failed).toEqual([])
    const plan = await cli(['layout', 'plan', '--fail-on-drift', '--json'])
    expect(plan.exitCode).toBe(0)
    const planned = LayoutResult.parse(plan.json())
    expect(planned.changes).toHaveLength(16)
    expect(notNoop(planned)).toEqual([])
    const pruned = await cli(['layout', 'plan', '--prune', '--fail-on-drift'])
    expect(pruned.exitCode).toBe(0)
    expect(pruned.stdout).toContain('No changes. Site osl1 matches the layout (16 objects).')
  })

  it('applies compression, metadata, allow_msg_ttl and filter_subjects where the server honours them, else refuses with exit 2 and creates nothing', async () => {
    const file = await writeLayout('recent.yaml', recentLayout())
    const before = await streamNames()
    const apply = await cli(['layout', 'apply', file, '--yes', '--json'])

    if (!serverAtLeast(version, '2.11.0')) {
      expect(apply.exitCode).toBe(2)
      const {error} = apply.json()
      expect(error.code).toBe('layout-field-unsupported')
      expect(error.message).toContain(`Site osl1 runs nats-server ${version}`)
      for (const path of [
        'streams.ORDERS.compression: needs nats-server 2.10.0',
        'streams.ORDERS.metadata: needs nats-server 2.10.0',
        'streams.ORDERS.allow_msg_ttl: needs nats-server 2.11.0',
        'streams.ORDERS.consumers.shipping.filter_subjects: needs nats-server 2.10.0',
        'streams.ORDERS.consumers.shipping.metadata: needs nats-server 2.10.0',
        'kv.settings.compression: needs nats-server 2.10.0',
      ]) {
        expect(error.message).toContain(path)
      }
      expect(await streamNames()).toEqual(before)
      expect(before).not.toContain('ORDERS')
      const plan = await cli(['layout', 'plan', file])
      expect(plan.exitCode).toBe(2)
      expect(plan.stderr).toContain('streams.ORDERS.compression')
      expect(plan.stderr).toContain(version)
      return
    }

    expect(apply.exitCode).toBe(0)
    const applied = LayoutResult.parse(apply.json())
    expect(applied.failed).toEqual([])
    expect(notNoop(applied).map((c) => `${c.action} ${c.kind} ${c.name}`)).toEqual([
      'create stream ORDERS',
      'create consumer shipping',
      'create kv settings',
    ])
    const jsm = await conn.jsm()
    const orders = (await jsm.streams.info('ORDERS')).config
    expect(orders).toMatchObject({compression: 's2', allow_msg_ttl: true})
    expect(orders.metadata).toMatchObject({team: 'ordre', tier: 'gold'})
    const shipping = (await jsm.consumers.info('ORDERS', 'shipping')).config
    expect(shipping.filter_subjects).toEqual(['orders.created', 'orders.paid'])
    expect(shipping.metadata).toMatchObject({owner: 'frakt'})
    const kv = (await jsm.streams.info('KV_settings')).config
    expect(kv.compression).toBe('s2')
    expect(kv.metadata).toMatchObject({team: 'ordre'})

    const plan = await cli(['layout', 'plan', file, '--fail-on-drift', '--json'])
    expect(plan.exitCode).toBe(0)
    expect(notNoop(LayoutResult.parse(plan.json()))).toEqual([])
    const again = await cli(['layout', 'apply', file, '--yes', '--json'])
    expect(again.exitCode).toBe(0)
    expect(notNoop(LayoutResult.parse(again.json()))).toEqual([])
  })

  it('changes compression and metadata in place, keeping the messages (2.10+), or refuses them on 2.9', async () => {
    const file = await writeLayout('recent-changed.yaml', changedLayout())
    if (!serverAtLeast(version, '2.11.0')) {
      expect((await cli(['layout', 'apply', file, '--yes'])).exitCode).toBe(2)
      expect(await streamNames()).not.toContain('ORDERS')
      return
    }
    const js = await conn.js()
    await js.publish('orders.created', '{"n":1}')
    // An ownership mark (dvctl.*) is not the layout's: replacing the declared metadata keeps it.
    const jsm = await conn.jsm()
    const live = (await jsm.streams.info('ORDERS')).config
    await jsm.streams.update('ORDERS', {metadata: {...live.metadata, 'dvctl.layout': 'recent'}})
    const apply = await cli(['layout', 'apply', file, '--yes', '--json'])
    expect(apply.exitCode).toBe(0)
    const result = LayoutResult.parse(apply.json())
    expect(notNoop(result).map((c) => `${c.action} ${c.kind} ${c.name}`)).toEqual([
      'update stream ORDERS',
      'update consumer shipping',
    ])
    expect(result.changes.find((c) => c.name === 'ORDERS')!.diff).toEqual([
      {field: 'metadata', from: {team: 'ordre', tier: 'gold'}, to: {team: 'lager'}},
      {field: 'compression', from: 's2', to: 'none'},
    ])
    const info = await (await conn.jsm()).streams.info('ORDERS')
    expect(info.state.messages).toBe(1)
    expect(info.config.compression).toBe('none')
    expect(info.config.metadata?.team).toBe('lager')
    expect(info.config.metadata?.tier).toBeUndefined()
    expect(info.config.metadata?.['dvctl.layout']).toBe('recent')
    const plan = await cli(['layout', 'plan', file, '--fail-on-drift'])
    expect(plan.exitCode).toBe(0)
  })

  it("shows an operator's consumer pause as state and keeps it through an apply (2.11+), or refuses pause_until on older servers", async () => {
    const layout = changedLayout()
    layout.streams!.ORDERS.consumers!.shipping.metadata = {owner: 'lager'}
    const file = await writeLayout('recent-owner.yaml', layout)
    if (!serverAtLeast(version, '2.11.0')) {
      const paused: LayoutInput = {
        streams: {P: {subjects: ['p.>'], consumers: {c: {pause_until: '2099-01-01T00:00:00Z'}}}},
      }
      const refused = await cli(['layout', 'apply', await writeLayout('paused.yaml', paused), '--yes', '--json'])
      expect(refused.exitCode).toBe(2)
      expect(refused.json().error.message).toContain('streams.P.consumers.c.pause_until: needs nats-server 2.11.0')
      expect(await streamNames()).not.toContain('P')
      return
    }
    const jsm = await conn.jsm()
    const until = new Date(Date.now() + 3_600_000)
    await jsm.consumers.pause('ORDERS', 'shipping', until)

    const plan = await cli(['layout', 'plan', file, '--json'])
    expect(plan.exitCode).toBe(0)
    const shipping = LayoutResult.parse(plan.json()).changes.find((c) => c.name === 'shipping')!
    expect(shipping.action).toBe('update')
    expect(shipping.diff.map((d) => d.field)).toEqual(['metadata'])
    // The server writes the instant its own way (RFC 3339 with trailing zeros of the fraction dropped).
    const [state] = shipping.state!
    expect(state).toEqual({
      field: 'pause_until',
      value: expect.any(String),
      note: `paused until ${state.value} (not changed by the layout)`,
    })
    expect(Date.parse(state.value as string)).toBe(until.getTime())
    const human = await cli(['layout', 'plan', file])
    expect(human.stdout).toContain('Runtime state, kept as it is:')
    expect(human.stdout).toContain(`consumer ORDERS/shipping: paused until ${state.value}`)

    expect((await cli(['layout', 'apply', file, '--yes'])).exitCode).toBe(0)
    const info = await jsm.consumers.info('ORDERS', 'shipping')
    expect(info.config.metadata?.owner).toBe('lager')
    expect(info.paused).toBe(true)
    expect(Date.parse(info.config.pause_until!)).toBe(until.getTime())

    // Declared in the layout, pause_until is applied in place through the pause API.
    const later = new Date(Date.now() + 7_200_000).toISOString()
    layout.streams!.ORDERS.consumers!.shipping.pause_until = later
    const declared = await writeLayout('recent-pause.yaml', layout)
    const apply = await cli(['layout', 'apply', declared, '--yes', '--json'])
    expect(apply.exitCode).toBe(0)
    expect(notNoop(LayoutResult.parse(apply.json())).map((c) => `${c.action} ${c.name}`)).toEqual(['update shipping'])
    expect(Date.parse((await jsm.consumers.info('ORDERS', 'shipping')).config.pause_until!)).toBe(Date.parse(later))
    expect((await cli(['layout', 'plan', declared, '--fail-on-drift'])).exitCode).toBe(0)

    // A consumer created again (ack policy cannot change in place) keeps the pause it had.
    delete layout.streams!.ORDERS.consumers!.shipping.pause_until
    layout.streams!.ORDERS.consumers!.shipping.ack_policy = 'all'
    const recreate = await cli([
      'layout',
      'apply',
      await writeLayout('recent-ack-all.yaml', layout),
      '--yes',
      '--allow-recreate',
    ])
    expect(recreate.exitCode).toBe(0)
    expect(recreate.stdout).toContain('-/+ consumer ORDERS/shipping')
    const recreated = await jsm.consumers.info('ORDERS', 'shipping')
    expect(recreated.config.ack_policy).toBe('all')
    expect(recreated.paused).toBe(true)
    expect(Date.parse(recreated.config.pause_until!)).toBe(Date.parse(later))
  })

  it('exports the 2.10+ fields, and the export plans as unchanged', async () => {
    const exported = await cli(['layout', 'export', '--json'])
    expect(exported.exitCode).toBe(0)
    const layout = exported.json()
    if (serverAtLeast(version, '2.11.0')) {
      expect(layout.streams.ORDERS).toMatchObject({metadata: {team: 'lager'}, allow_msg_ttl: true})
      // compression: none is the default, so it is not written; reserved keys and the pause never are.
      expect(layout.streams.ORDERS.compression).toBeUndefined()
      expect(Object.keys(layout.streams.ORDERS.metadata)).toEqual(['team'])
      expect(layout.streams.ORDERS.consumers.shipping).toMatchObject({
        filter_subjects: ['orders.created', 'orders.shipped'],
        metadata: {owner: 'lager'},
      })
      expect(layout.streams.ORDERS.consumers.shipping.pause_until).toBeUndefined()
      expect(layout.kv.settings).toMatchObject({compression: 's2', metadata: {team: 'ordre'}})
    } else {
      expect(layout.streams.ORDERS).toBeUndefined()
      expect(JSON.stringify(layout)).not.toContain('metadata')
    }
    const file = await writeLayout('exported.yaml', layout)
    const plan = await cli(['layout', 'plan', file, '--fail-on-drift', '--json'])
    expect(plan.exitCode).toBe(0)
    expect(notNoop(LayoutResult.parse(plan.json()))).toEqual([])
  })
})
