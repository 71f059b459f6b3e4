import type {ConsumerConfig, StreamConfig} from '@nats-io/jetstream'
import {describe, expect, it} from 'vitest'

import {dataverketLayout} from '../../../src/lib/layout/dataverket.js'
import type {LiveLayout} from '../../../src/lib/layout/live.js'
import {hasChanges, planLayout, summarisePlan} from '../../../src/lib/layout/plan.js'
import {layoutForSite} from '../../../src/lib/layout/resolve.js'
import {Layout} from '../../../src/lib/layout/schema.js'

const S = 1_000_000_000
const DAY = 86_400 * S

/** A stream config as nats-server 2.9.10 returns it, defaults filled in. */
function liveStream(name: string, over: Partial<StreamConfig> = {}): StreamConfig {
  return {
    name,
    subjects: [],
    retention: 'limits',
    max_consumers: -1,
    max_msgs: -1,
    max_bytes: -1,
    max_age: 0,
    max_msgs_per_subject: -1,
    max_msg_size: -1,
    discard: 'old',
    storage: 'file',
    num_replicas: 1,
    duplicate_window: 120 * S,
    allow_direct: false,
    mirror_direct: false,
    sealed: false,
    deny_delete: false,
    deny_purge: false,
    allow_rollup_hdrs: false,
    ...over,
  } as StreamConfig
}

/** A service consumer as 2.9.10 echoes it: ack_wait replaced by backoff[0], num_replicas 0. */
function liveConsumer(service: string, over: Partial<ConsumerConfig> = {}): ConsumerConfig {
  return {
    durable_name: service,
    name: service,
    deliver_policy: 'all',
    ack_policy: 'explicit',
    ack_wait: 1 * S,
    max_deliver: 5,
    backoff: [1 * S, 5 * S, 30 * S, 120 * S],
    filter_subject: `dv.${service}.cmd.>`,
    replay_policy: 'instant',
    max_waiting: 512,
    max_ack_pending: 1000,
    num_replicas: 0,
    ...over,
  } as ConsumerConfig
}

const SERVICES = ['sentral', 'identitet', 'maskin', 'plattform', 'tjeneste', 'objekt', 'nett']

/** What a fresh server holds after applying the dataverket layout. */
function appliedDataverket(serverVersion = '2.9.10'): LiveLayout {
  return {
    serverVersion,
    streams: {
      DV_CMD: {
        config: liveStream('DV_CMD', {subjects: ['dv.*.cmd.>'], max_age: 14 * DAY}),
        consumers: Object.fromEntries(SERVICES.map((s) => [s, liveConsumer(s)])),
      },
      DV_EVT: {
        config: liveStream('DV_EVT', {subjects: SERVICES.map((s) => `dv.${s}.evt.>`), max_age: 30 * DAY}),
        consumers: {},
      },
      DV_TASK: {config: liveStream('DV_TASK', {subjects: ['dv.task.evt.>'], max_age: 30 * DAY}), consumers: {}},
      DV_DLQ: {
        config: liveStream('DV_DLQ', {
          subjects: ['$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.>', '$JS.EVENT.ADVISORY.CONSUMER.MSG_TERMINATED.>'],
          max_age: 30 * DAY,
        }),
        consumers: {
          dlq_capture: {
            durable_name: 'dlq_capture',
            name: 'dlq_capture',
            description: 'dvctl dlq capture: copies each dead letter into DV_DLQ_ARCHIVE',
            deliver_policy: 'all',
            ack_policy: 'explicit',
            ack_wait: 30 * S,
            max_deliver: -1,
            replay_policy: 'instant',
            max_waiting: 512,
            max_ack_pending: 1000,
            num_replicas: 0,
          } as ConsumerConfig,
        },
      },
      DV_DLQ_ARCHIVE: {
        config: liveStream('DV_DLQ_ARCHIVE', {
          description: "Dead letters' original commands, copied by dvctl dlq capture",
          subjects: ['dvarchive.>'],
          max_msgs_per_subject: 1,
        }),
        consumers: {},
      },
    },
    kv: {
      dv_dlq_ledger: liveStream('KV_dv_dlq_ledger', {
        subjects: ['$KV.dv_dlq_ledger.>'],
        max_msgs_per_subject: 64,
        discard: 'new',
        allow_direct: true,
        allow_rollup_hdrs: true,
      }),
      dv_dlq_runtime: liveStream('KV_dv_dlq_runtime', {
        subjects: ['$KV.dv_dlq_runtime.>'],
        max_msgs_per_subject: 1,
        discard: 'new',
        allow_direct: true,
        allow_rollup_hdrs: true,
      }),
      dv_dlq_triage: liveStream('KV_dv_dlq_triage', {
        subjects: ['$KV.dv_dlq_triage.>'],
        max_msgs_per_subject: 16,
        discard: 'new',
        allow_direct: true,
        allow_rollup_hdrs: true,
      }),
    },
  }
}

const declared = (layout = dataverketLayout(), site = 'osl1') => layoutForSite(layout, site)
const changed = (plan: ReturnType<typeof planLayout>) => plan.changes.filter((c) => c.action !== 'noop')

describe('planLayout', () => {
  it('creates everything on an empty server, consumers with their stream', () => {
    const plan = planLayout(declared(), {serverVersion: '2.9.10', streams: {}, kv: {}})
    expect(summarisePlan(plan.changes)).toEqual({create: 16, update: 0, recreate: 0, delete: 0, noop: 0})
    const maskin = plan.changes.find((c) => c.kind === 'consumer' && c.name === 'maskin')
    expect(maskin).toMatchObject({stream: 'DV_CMD', action: 'create'})
    expect(maskin!.diff).toContainEqual({field: 'backoff', from: null, to: ['1s', '5s', '30s', '2m']})
    expect(plan.changes.find((c) => c.kind === 'kv')).toMatchObject({name: 'dv_dlq_ledger', action: 'create'})
  })

  it('reports nothing right after an apply: server defaults and the 2.9 ack_wait echo are not drift', () => {
    const plan = planLayout(declared(), appliedDataverket())
    expect(changed(plan)).toEqual([])
    expect(hasChanges(plan)).toBe(false)
    expect(plan.unmanaged).toEqual([])
  })

  it('compares durations by value, not by spelling', () => {
    const layout = dataverketLayout()
    layout.streams.DV_CMD.duplicate_window = '120s'
    layout.streams.DV_CMD.max_age = '336h'
    expect(changed(planLayout(declared(layout), appliedDataverket()))).toEqual([])
  })

  it('plans a changed max_age as an update with a field diff', () => {
    const layout = dataverketLayout()
    layout.streams.DV_EVT.max_age = '7d'
    expect(changed(planLayout(declared(layout), appliedDataverket()))).toEqual([
      {
        kind: 'stream',
        name: 'DV_EVT',
        action: 'update',
        diff: [{field: 'max_age', from: '30d', to: '7d'}],
        owner: null,
      },
    ])
  })

  it('plans a changed storage as recreate, and the stream consumers with it', () => {
    const layout = dataverketLayout()
    layout.streams.DV_CMD.storage = 'memory'
    const plan = planLayout(declared(layout), appliedDataverket())
    expect(plan.changes[0]).toEqual({
      kind: 'stream',
      name: 'DV_CMD',
      action: 'recreate',
      diff: [{field: 'storage', from: 'file', to: 'memory', forces_recreate: true}],
      owner: null,
    })
    const consumers = plan.changes.filter((c) => c.kind === 'consumer' && c.stream === 'DV_CMD')
    expect(consumers).toHaveLength(7)
    expect(consumers.every((c) => c.action === 'recreate' && c.reason === 'its stream is recreated')).toBe(true)
  })

  it('knows which consumer fields the server cannot change, by version', () => {
    const layout = dataverketLayout()
    layout.streams.DV_CMD.consumers!.maskin.filter_subject = 'dv.maskin.cmd.provision'
    layout.streams.DV_CMD.consumers!.nett.max_deliver = 7
    layout.streams.DV_CMD.consumers!.objekt.ack_policy = 'all'
    const old = planLayout(declared(layout), appliedDataverket('2.9.7'))
    const actions = (plan: typeof old) => Object.fromEntries(changed(plan).map((c) => [c.name, c.action]))
    expect(actions(old)).toEqual({maskin: 'recreate', nett: 'update', objekt: 'recreate'})
    const current = planLayout(declared(layout), appliedDataverket('2.9.10'))
    expect(actions(current)).toEqual({maskin: 'update', nett: 'update', objekt: 'recreate'})
  })

  it('lets a deny be switched on in place but not off', () => {
    const on = dataverketLayout()
    on.streams.DV_TASK.deny_delete = true
    expect(changed(planLayout(declared(on), appliedDataverket()))[0]).toMatchObject({action: 'update'})
    const live = appliedDataverket()
    live.streams.DV_TASK.config.deny_delete = true
    const off = dataverketLayout()
    off.streams.DV_TASK.deny_delete = false
    expect(changed(planLayout(declared(off), live))[0]).toMatchObject({action: 'recreate'})
  })

  it('keeps live objects missing from the layout unless pruning, and never lists KV streams as streams', () => {
    const live = appliedDataverket()
    const mark = ' [dvctl:layout=dataverket]'
    live.streams.OLD = {config: liveStream('OLD', {subjects: ['old.>'], description: `Old${mark}`}), consumers: {}}
    live.streams.DV_CMD.consumers.retired = liveConsumer('retired', {description: mark.trim()})
    live.kv.scratch = liveStream('KV_scratch', {description: mark.trim()})
    const kept = planLayout(declared(), live)
    expect(changed(kept)).toEqual([])
    expect(kept.unmanaged).toEqual([
      {kind: 'consumer', name: 'retired', stream: 'DV_CMD', owner: 'dataverket', reason: 'prune-not-given'},
      {kind: 'stream', name: 'OLD', owner: 'dataverket', reason: 'prune-not-given'},
      {kind: 'kv', name: 'scratch', owner: 'dataverket', reason: 'prune-not-given'},
    ])
    const pruned = planLayout(declared(), live, {prune: true})
    expect(changed(pruned).map((c) => [c.kind, c.name, c.action])).toEqual([
      ['consumer', 'retired', 'delete'],
      ['stream', 'OLD', 'delete'],
      ['kv', 'scratch', 'delete'],
    ])
    expect(pruned.unmanaged).toEqual([])
  })

  it.each(['2.9.10', '2.15.2'])(
    'prunes only what dvctl created for this layout, never foreign, server-owned or audit objects (%s)',
    (version) => {
      const metadata = version !== '2.9.10'
      const owned = (layout: string, description?: string) =>
        metadata
          ? {description, metadata: {'dvctl.layout': layout, '_nats.req.level': '0'}}
          : {description: description ? `${description} [dvctl:layout=${layout}]` : `[dvctl:layout=${layout}]`}
      const live = appliedDataverket(version)
      live.streams.ORDERS = {config: liveStream('ORDERS', {subjects: ['orders.>']}), consumers: {}}
      live.streams.BILLING = {config: liveStream('BILLING', owned('billing')), consumers: {}}
      live.streams.OLD = {config: liveStream('OLD', owned('dataverket', 'Retired')), consumers: {}}
      live.streams.$MQTT_msgs = {config: liveStream('$MQTT_msgs', owned('dataverket')), consumers: {}}
      live.streams.DV_CMD.consumers.JS_SRC_abc123 = liveConsumer('JS_SRC_abc123', {
        ...owned('dataverket'),
        metadata: {'_nats.src.stream': 'XS', ...owned('dataverket').metadata},
      } as Partial<ConsumerConfig>)
      live.streams.DV_CMD.consumers.JS_MIRROR_abc_1 = liveConsumer('JS_MIRROR_abc_1', owned('dataverket'))
      live.streams.DV_CMD.consumers.adhoc = liveConsumer('adhoc')
      Object.assign(live.kv.dv_dlq_ledger, owned('dataverket'))
      Object.assign(live.kv.dv_dlq_triage, owned('dataverket'))
      live.streams.DV_DLQ_ARCHIVE = {config: liveStream('DV_DLQ_ARCHIVE', owned('dataverket')), consumers: {}}
      const withoutLedger = dataverketLayout()
      withoutLedger.kv = {}
      delete withoutLedger.streams.DV_DLQ_ARCHIVE

      const plan = planLayout(declared(withoutLedger), live, {prune: true})
      expect(changed(plan).map((c) => `${c.action} ${c.kind} ${c.name}`)).toEqual(['delete stream OLD'])
      expect(plan.unmanaged.map((u) => [u.name, u.reason, u.owner])).toEqual([
        ['JS_MIRROR_abc_1', 'server-owned', 'dataverket'],
        ['JS_SRC_abc123', 'server-owned', 'dataverket'],
        ['adhoc', 'not-owned', null],
        ['$MQTT_msgs', 'server-owned', 'dataverket'],
        ['BILLING', 'not-owned', 'billing'],
        ['DV_DLQ_ARCHIVE', 'audit-trail', 'dataverket'],
        ['ORDERS', 'not-owned', null],
        ['dv_dlq_ledger', 'audit-trail', 'dataverket'],
        ['dv_dlq_runtime', 'audit-trail', null],
        ['dv_dlq_triage', 'audit-trail', 'dataverket'],
      ])
      // A layout without a name owns nothing.
      const unnamed = {...declared(withoutLedger), name: undefined}
      expect(changed(planLayout(unnamed, live, {prune: true}))).toEqual([])
    },
  )

  it('does not see the 2.9 ownership marker as a description change', () => {
    const layout = dataverketLayout()
    layout.streams.DV_EVT.description = 'Integration events'
    layout.streams.DV_CMD.consumers!.maskin.description = 'maskin worker'
    const live = appliedDataverket()
    live.streams.DV_EVT.config.description = 'Integration events [dvctl:layout=dataverket]'
    live.streams.DV_CMD.consumers.maskin.description = 'maskin worker [dvctl:layout=dataverket]'
    live.streams.DV_TASK.config.description = '[dvctl:layout=dataverket]'
    const plan = planLayout(declared(layout), live)
    expect(changed(plan)).toEqual([])
    expect(plan.changes.find((c) => c.name === 'DV_EVT')!.owner).toBe('dataverket')
    // A real change shows without the marker.
    live.streams.DV_EVT.config.description = 'Events [dvctl:layout=dataverket]'
    expect(changed(planLayout(declared(layout), live))[0].diff).toEqual([
      {field: 'description', from: 'Events', to: 'Integration events'},
    ])
  })

  it('plans KV settings in bucket terms', () => {
    const layout = dataverketLayout()
    layout.kv.dv_dlq_ledger = {history: 10, ttl: '90d'}
    expect(changed(planLayout(declared(layout), appliedDataverket()))).toEqual([
      {
        kind: 'kv',
        name: 'dv_dlq_ledger',
        action: 'update',
        diff: [
          {field: 'history', from: 64, to: 10},
          {field: 'ttl', from: '0ms', to: '90d'},
        ],
        owner: null,
      },
    ])
  })

  it('applies the site overrides and resolves a cross-site source to that site', () => {
    const layout = Layout.parse({
      ...dataverketLayout(),
      sites: {
        trd1: {
          streams: {
            DV_CMD: {max_age: '7d'},
            XS_OSL1_EVT: {sources: [{name: 'DV_EVT', site: 'osl1'}]},
          },
        },
      },
    })
    const live = appliedDataverket()
    live.streams.XS_OSL1_EVT = {
      config: liveStream('XS_OSL1_EVT', {sources: [{name: 'DV_EVT', external: {api: '$JS.osl1.API', deliver: ''}}]}),
      consumers: {},
    }
    expect(changed(planLayout(declared(layout, 'trd1'), live))).toEqual([
      {
        kind: 'stream',
        name: 'DV_CMD',
        action: 'update',
        diff: [{field: 'max_age', from: '14d', to: '7d'}],
        owner: null,
      },
    ])
    // osl1 gets no overrides, so the sourcing stream is unmanaged there.
    expect(planLayout(declared(layout, 'osl1'), live).unmanaged).toEqual([
      {kind: 'stream', name: 'XS_OSL1_EVT', owner: null, reason: 'not-owned'},
    ])
  })
})
