import type {ConsumerConfig, StreamConfig} from '@nats-io/jetstream'
import {describe, expect, it} from 'vitest'

import {dataverketLayout} from '../../../src/lib/layout/dataverket.js'
import {
  CONSUMER_FIELDS,
  consumerSpecFromServer,
  STREAM_FIELDS,
  streamSpecFromServer,
  withoutDefaults,
} from '../../../src/lib/layout/fields.js'
import type {LiveLayout} from '../../../src/lib/layout/live.js'
import {validateLayout} from '../../../src/lib/layout/load.js'
import {planLayout} from '../../../src/lib/layout/plan.js'
import {layoutForSite} from '../../../src/lib/layout/resolve.js'
import {Layout, type LayoutInput} from '../../../src/lib/layout/schema.js'
import {unsupportedFields} from '../../../src/lib/layout/version-gate.js'

const S = 1_000_000_000
const DAY = 86_400 * S
const SERVICES = ['sentral', 'identitet', 'maskin', 'plattform', 'tjeneste', 'objekt', 'nett']

/** A stream config as nats-server 2.9.10 lists it: none of the 2.10+ fields. */
function stream29(name: string, over: Partial<StreamConfig> = {}): StreamConfig {
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

/**
 * A stream config as nats-server 2.15.2 lists it (taken from a live server): `compression`,
 * `allow_msg_ttl`, `consumer_limits` and the server's `_nats.req.level` metadata key are added;
 * `first_seq`, `discard_new_per_subject` and `subject_delete_marker_ttl` are left out while unset.
 */
function stream215(name: string, over: Partial<StreamConfig> = {}): StreamConfig {
  const {metadata, ...rest} = over
  return stream29(name, {
    compression: 'none',
    consumer_limits: {},
    allow_msg_ttl: false,
    metadata: {'_nats.req.level': '0', ...metadata},
    ...rest,
  } as Partial<StreamConfig>)
}

/** A service consumer as 2.15.2 lists it after the dataverket layout: ack_wait = backoff[0], metadata added. */
function consumer215(service: string, over: Partial<ConsumerConfig> = {}): ConsumerConfig {
  const {metadata, ...rest} = over
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
    metadata: {'_nats.req.level': '0', ...metadata},
    ...rest,
  } as ConsumerConfig
}

/** The dataverket layout as applied to a fresh 2.15.2 server. */
function applied215(): LiveLayout {
  return {
    serverVersion: '2.15.2',
    streams: {
      DV_CMD: {
        config: stream215('DV_CMD', {subjects: ['dv.*.cmd.>'], max_age: 14 * DAY}),
        consumers: Object.fromEntries(SERVICES.map((s) => [s, consumer215(s)])),
      },
      DV_EVT: {
        config: stream215('DV_EVT', {subjects: SERVICES.map((s) => `dv.${s}.evt.>`), max_age: 30 * DAY}),
        consumers: {},
      },
      DV_TASK: {config: stream215('DV_TASK', {subjects: ['dv.task.evt.>'], max_age: 30 * DAY}), consumers: {}},
      DV_DLQ: {
        config: stream215('DV_DLQ', {
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
            metadata: {'_nats.req.level': '0'},
          } as ConsumerConfig,
        },
      },
      // On 2.11+ the archive allows per-message TTL (dataverket.ts).
      DV_DLQ_ARCHIVE: {
        config: stream215('DV_DLQ_ARCHIVE', {
          description: "Dead letters' original commands, copied by dvctl dlq capture",
          subjects: ['dvarchive.>'],
          max_msgs_per_subject: 1,
          allow_msg_ttl: true,
        }),
        consumers: {},
      },
    },
    kv: {
      dv_dlq_ledger: stream215('KV_dv_dlq_ledger', {
        subjects: ['$KV.dv_dlq_ledger.>'],
        max_msgs_per_subject: 64,
        discard: 'new',
        allow_direct: true,
        allow_rollup_hdrs: true,
      }),
      dv_dlq_runtime: stream215('KV_dv_dlq_runtime', {
        subjects: ['$KV.dv_dlq_runtime.>'],
        max_msgs_per_subject: 1,
        discard: 'new',
        allow_direct: true,
        allow_rollup_hdrs: true,
      }),
      dv_dlq_triage: stream215('KV_dv_dlq_triage', {
        subjects: ['$KV.dv_dlq_triage.>'],
        max_msgs_per_subject: 16,
        discard: 'new',
        allow_direct: true,
        allow_rollup_hdrs: true,
      }),
    },
  }
}

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

/** What 2.15.2 lists after applying `recentLayout`, with a dvctl ownership mark as another session may add. */
function recentApplied215(): LiveLayout {
  return {
    serverVersion: '2.15.2',
    streams: {
      ORDERS: {
        config: stream215('ORDERS', {
          subjects: ['orders.>'],
          compression: 's2',
          allow_msg_ttl: true,
          metadata: {'_nats.req.level': '1', 'dvctl.layout': 'recent', team: 'ordre', tier: 'gold'},
        } as Partial<StreamConfig>),
        consumers: {
          shipping: {
            durable_name: 'shipping',
            name: 'shipping',
            deliver_policy: 'all',
            ack_policy: 'explicit',
            ack_wait: 30 * S,
            max_deliver: -1,
            filter_subjects: ['orders.created', 'orders.paid'],
            replay_policy: 'instant',
            max_waiting: 512,
            max_ack_pending: 1000,
            num_replicas: 0,
            metadata: {'_nats.req.level': '0', 'dvctl.layout': 'recent', owner: 'frakt'},
          } as ConsumerConfig,
        },
      },
    },
    kv: {
      settings: stream215('KV_settings', {
        subjects: ['$KV.settings.>'],
        compression: 's2',
        discard: 'new',
        allow_direct: true,
        allow_rollup_hdrs: true,
        metadata: {team: 'ordre'},
      } as Partial<StreamConfig>),
    },
  }
}

const site = (layout: LayoutInput, name = 'osl1') => layoutForSite(Layout.parse(layout), name)
const changed = (plan: ReturnType<typeof planLayout>) => plan.changes.filter((c) => c.action !== 'noop')
const NOW = Date.parse('2026-12-02T12:00:00Z')

describe('planLayout on nats-server 2.15.2', () => {
  it('plans nothing right after the dataverket layout was applied', () => {
    const plan = planLayout(layoutForSite(dataverketLayout({serverVersion: '2.15.2'}), 'osl1'), applied215(), {
      now: NOW,
    })
    expect(changed(plan)).toEqual([])
    expect(plan.changes).toHaveLength(16)
    expect(plan.unmanaged).toEqual([])
  })

  it('plans nothing after the 2.10+ fields were applied: reserved _nats.* and dvctl.* keys are not drift', () => {
    const plan = planLayout(site(recentLayout()), recentApplied215(), {now: NOW})
    expect(changed(plan)).toEqual([])
    expect(plan.changes.map((c) => `${c.kind} ${c.name}`)).toEqual([
      'stream ORDERS',
      'consumer shipping',
      'kv settings',
    ])
  })

  it('creates the 2.10+ fields on an empty server, with their values in the diff', () => {
    const plan = planLayout(site(recentLayout()), {serverVersion: '2.15.2', streams: {}, kv: {}}, {now: NOW})
    const orders = plan.changes.find((c) => c.name === 'ORDERS')!
    expect(orders.action).toBe('create')
    expect(orders.diff).toContainEqual({field: 'compression', from: null, to: 's2'})
    expect(orders.diff).toContainEqual({field: 'metadata', from: null, to: {team: 'ordre', tier: 'gold'}})
    const shipping = plan.changes.find((c) => c.name === 'shipping')!
    expect(shipping.diff).toContainEqual({
      field: 'filter_subjects',
      from: null,
      to: ['orders.created', 'orders.paid'],
    })
  })

  it('compares declared metadata without the reserved keys, and shows only the layout keys in the diff', () => {
    const layout = recentLayout()
    layout.streams!.ORDERS.metadata = {team: 'lager', tier: 'gold'}
    const plan = planLayout(site(layout), recentApplied215(), {now: NOW})
    expect(changed(plan)).toEqual([
      {
        kind: 'stream',
        name: 'ORDERS',
        action: 'update',
        diff: [{field: 'metadata', from: {team: 'ordre', tier: 'gold'}, to: {team: 'lager', tier: 'gold'}}],
        owner: 'recent',
      },
    ])
  })

  it('counts a field the server leaves out (or does not know) as its default', () => {
    const layout: LayoutInput = {
      streams: {
        A: {
          subjects: ['a.>'],
          compression: 'none',
          metadata: {},
          allow_msg_ttl: false,
          discard_new_per_subject: false,
          first_seq: 0,
          subject_delete_marker_ttl: '0s',
          mirror_direct: undefined,
          consumers: {
            c: {headers_only: false, priority_policy: 'none', metadata: {}, mem_storage: false, sample_freq: ''},
          },
        },
      },
    }
    const consumer = {durable_name: 'c', name: 'c', deliver_policy: 'all', ack_policy: 'none', replay_policy: 'instant'}
    for (const [version, config] of [
      ['2.9.10', stream29('A', {subjects: ['a.>']})],
      ['2.15.2', stream215('A', {subjects: ['a.>']})],
    ] as const) {
      const live: LiveLayout = {
        serverVersion: version,
        streams: {A: {config, consumers: {c: consumer as ConsumerConfig}}},
        kv: {},
      }
      expect(changed(planLayout(site(layout), live, {now: NOW})), version).toEqual([])
    }
  })

  it('plans in-place updates and recreates as checked on 2.15.2', () => {
    const live = recentApplied215()
    live.streams.ORDERS.config.first_seq = 100
    const layout = recentLayout()
    Object.assign(layout.streams!.ORDERS, {
      compression: 'none',
      first_seq: 100,
      subject_transform: {dest: 'ordre.>', src: 'orders.>'},
      republish: {dest: 'copy.>'},
    })
    const update = changed(planLayout(site(layout), live, {now: NOW}))
    expect(update).toEqual([
      {
        kind: 'stream',
        name: 'ORDERS',
        action: 'update',
        diff: [
          {field: 'compression', from: 's2', to: 'none'},
          {field: 'subject_transform', from: null, to: {dest: 'ordre.>', src: 'orders.>'}},
          {field: 'republish', from: null, to: {dest: 'copy.>'}},
        ],
        owner: 'recent',
      },
    ])
    // What the server echoes back compares equal: keys in its order, `src` filled with `>`.
    Object.assign(live.streams.ORDERS.config, {
      compression: 'none',
      subject_transform: {src: 'orders.>', dest: 'ordre.>'},
      republish: {src: '>', dest: 'copy.>'},
    })
    expect(changed(planLayout(site(layout), live, {now: NOW}))).toEqual([])

    // allow_msg_ttl cannot be switched off again, and a new first_seq only acts on a new stream.
    const off = recentLayout()
    Object.assign(off.streams!.ORDERS, {allow_msg_ttl: false, first_seq: 500})
    const [recreate] = changed(planLayout(site(off), live, {now: NOW}))
    expect(recreate).toMatchObject({kind: 'stream', name: 'ORDERS', action: 'recreate'})
    expect(recreate.diff.filter((d) => d.forces_recreate)).toEqual([
      {field: 'first_seq', from: 100, to: 500, forces_recreate: true},
      {field: 'allow_msg_ttl', from: true, to: false, forces_recreate: true},
    ])
  })

  it('updates source transforms in place, but recreates a mirror whose transforms change', () => {
    const live = applied215()
    const transforms = [{src: 'dv.>', dest: 'osl1.dv.>'}]
    live.streams.COPY = {
      config: stream215('COPY', {sources: [{name: 'DV_EVT', subject_transforms: transforms}]}),
      consumers: {},
    }
    live.streams.MIRROR = {
      config: stream215('MIRROR', {mirror: {name: 'DV_EVT', subject_transforms: transforms}}),
      consumers: {},
    }
    const layout = {...dataverketLayout(), streams: {...dataverketLayout().streams}} as LayoutInput
    const moved = [{src: 'dv.>', dest: 'x.dv.>'}]
    layout.streams!.COPY = {sources: [{name: 'DV_EVT', subject_transforms: moved}]}
    layout.streams!.MIRROR = {mirror: {name: 'DV_EVT', subject_transforms: moved}}
    const actions = Object.fromEntries(
      changed(planLayout(site(layout), live, {now: NOW})).map((c) => [c.name, c.action]),
    )
    expect(actions).toEqual({COPY: 'update', MIRROR: 'recreate'})
    layout.streams!.COPY = {sources: [{name: 'DV_EVT', subject_transforms: transforms}]}
    layout.streams!.MIRROR = {mirror: {name: 'DV_EVT', subject_transforms: transforms}}
    expect(changed(planLayout(site(layout), live, {now: NOW}))).toEqual([])
  })

  it("shows an operator's pause as state, never as drift, and keeps it on a recreate", () => {
    const live = applied215()
    const until = '2026-12-02T13:00:00Z'
    live.streams.DV_CMD.consumers.maskin.pause_until = until
    live.streams.DV_CMD.consumers.nett.pause_until = '2026-12-01T00:00:00Z' // over: not in force
    const plan = planLayout(layoutForSite(dataverketLayout(), 'osl1'), live, {now: NOW})
    expect(changed(plan)).toEqual([])
    const states = plan.changes.filter((c) => c.state)
    expect(states).toEqual([
      expect.objectContaining({
        name: 'maskin',
        action: 'noop',
        state: [{field: 'pause_until', value: until, note: `paused until ${until} (not changed by the layout)`}],
      }),
    ])

    const storage = dataverketLayout()
    storage.streams.DV_CMD.storage = 'memory'
    const recreated = planLayout(layoutForSite(storage, 'osl1'), live, {now: NOW})
    expect(recreated.changes.find((c) => c.name === 'maskin')).toMatchObject({
      action: 'recreate',
      reason: 'its stream is recreated',
      state: [{field: 'pause_until', value: until}],
    })

    // Declared, pause_until is compared like any field (apply moves it with the pause API, in place).
    const declared = dataverketLayout()
    declared.streams.DV_CMD.consumers!.maskin.pause_until = '2026-12-02T14:00:00+01:00'
    expect(changed(planLayout(layoutForSite(declared, 'osl1'), live, {now: NOW}))).toEqual([])
    declared.streams.DV_CMD.consumers!.maskin.pause_until = '2026-12-02T15:00:00Z'
    expect(changed(planLayout(layoutForSite(declared, 'osl1'), live, {now: NOW}))).toEqual([
      {
        kind: 'consumer',
        name: 'maskin',
        stream: 'DV_CMD',
        action: 'update',
        diff: [{field: 'pause_until', from: until, to: '2026-12-02T15:00:00Z'}],
        owner: null,
      },
    ])
  })
})

describe('version gate', () => {
  it('names every field 2.9.10 cannot honour, by path and needed release; 2.15.2 honours them all', () => {
    expect(unsupportedFields(site(recentLayout()), '2.9.10')).toEqual([
      {path: 'streams.ORDERS.metadata', needs: '2.10.0'},
      {path: 'streams.ORDERS.compression', needs: '2.10.0'},
      {path: 'streams.ORDERS.allow_msg_ttl', needs: '2.11.0'},
      {path: 'streams.ORDERS.consumers.shipping.filter_subjects', needs: '2.10.0'},
      {path: 'streams.ORDERS.consumers.shipping.metadata', needs: '2.10.0'},
      {path: 'kv.settings.compression', needs: '2.10.0'},
      {path: 'kv.settings.metadata', needs: '2.10.0'},
    ])
    expect(unsupportedFields(site(recentLayout()), '2.15.2')).toEqual([])
    expect(unsupportedFields(layoutForSite(dataverketLayout(), 'osl1'), '2.9.10')).toEqual([])
  })

  it('lets a default value pass on any server, and gates by value where only some values are new', () => {
    const layout: LayoutInput = {
      streams: {
        A: {
          subjects: ['a.>'],
          compression: 'none',
          allow_msg_ttl: false,
          sources: [{name: 'B'}, {name: 'C', subject_transforms: [{src: 'c.>', dest: 'd.>'}]}],
          consumers: {
            p: {priority_groups: ['g'], priority_policy: 'prioritized'},
            q: {priority_groups: ['g'], priority_policy: 'overflow'},
          },
        },
      },
    }
    expect(unsupportedFields(site(layout), '2.11.4')).toEqual([
      {path: 'streams.A.consumers.p.priority_policy', needs: '2.12.0'},
    ])
    expect(unsupportedFields(site(layout), '2.9.10')).toEqual([
      {path: 'streams.A.sources.1.subject_transforms', needs: '2.10.0'},
      {path: 'streams.A.consumers.p.priority_groups', needs: '2.11.0'},
      {path: 'streams.A.consumers.p.priority_policy', needs: '2.12.0'},
      {path: 'streams.A.consumers.q.priority_groups', needs: '2.11.0'},
      {path: 'streams.A.consumers.q.priority_policy', needs: '2.11.0'},
    ])
  })

  it('checks the site view: a field set only for a newer site does not stop an older one', () => {
    const layout: LayoutInput = {
      streams: {A: {subjects: ['a.>']}},
      sites: {trd1: {streams: {A: {compression: 's2'}}}},
    }
    expect(unsupportedFields(site(layout, 'osl1'), '2.9.10')).toEqual([])
    expect(unsupportedFields(site(layout, 'trd1'), '2.9.10')).toEqual([
      {path: 'streams.A.compression', needs: '2.10.0'},
    ])
  })
})

describe('export of 2.15.2 configs', () => {
  it('writes the 2.10+ fields that differ from the defaults, without reserved metadata or a pause', () => {
    const {config, consumers} = recentApplied215().streams.ORDERS
    expect(withoutDefaults(STREAM_FIELDS, streamSpecFromServer(config))).toEqual({
      subjects: ['orders.>'],
      retention: 'limits',
      storage: 'file',
      metadata: {team: 'ordre', tier: 'gold'},
      compression: 's2',
      allow_msg_ttl: true,
    })
    expect(withoutDefaults(CONSUMER_FIELDS, consumerSpecFromServer(consumers.shipping))).toEqual({
      ack_policy: 'explicit',
      filter_subjects: ['orders.created', 'orders.paid'],
      metadata: {owner: 'frakt'},
    })
    expect(withoutDefaults(STREAM_FIELDS, streamSpecFromServer(stream215('P', {subjects: ['p.>']})))).toEqual({
      subjects: ['p.>'],
      retention: 'limits',
      storage: 'file',
    })
  })
})

describe('layout validation of the 2.10+ fields', () => {
  const problems = (layout: unknown) => validateLayout(layout).problems

  it('refuses reserved metadata keys', () => {
    expect(problems({streams: {A: {subjects: ['a.>'], metadata: {'_nats.ver': '2'}}}})).toEqual([
      {path: 'streams.A.metadata._nats.ver', message: expect.stringContaining('reserved metadata key')},
    ])
    expect(problems({kv: {b: {metadata: {'dvctl.layout': 'x'}}}})[0].path).toBe('kv.b.metadata.dvctl.layout')
  })

  it('refuses combinations the server refuses or rewrites', () => {
    expect(
      problems({
        streams: {
          A: {subjects: ['a.>'], mirror_direct: true, subject_delete_marker_ttl: '500ms', allow_rollup_hdrs: false},
          B: {mirror: {name: 'A'}, mirror_direct: true},
          C: {mirror: {name: 'A', site: 'trd1'}, mirror_direct: true},
          D: {
            subjects: ['d.>'],
            discard_new_per_subject: true,
            consumers: {
              c: {filter_subject: 'd.a', filter_subjects: ['d.b']},
              p: {priority_policy: 'overflow'},
              t: {priority_groups: ['g'], priority_policy: 'overflow', priority_timeout: '30s'},
            },
          },
        },
      }).map((p) => p.path),
    ).toEqual([
      'streams.A.mirror_direct',
      'streams.A.subject_delete_marker_ttl',
      'streams.A.subject_delete_marker_ttl',
      'streams.B.mirror_direct',
      'streams.D.discard_new_per_subject',
      'streams.D.consumers.c.filter_subjects',
      'streams.D.consumers.p.priority_policy',
      'streams.D.consumers.t.priority_timeout',
    ])
  })
})
