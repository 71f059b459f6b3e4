import {serverAtLeast as atLeast} from '../../../src/lib/nats/server-version.js'
import type {StreamConfig} from '@nats-io/jetstream'
import {describe, expect, it} from 'vitest'

import {
  sourceFromServer,
  sourceToServer,
  specToServer,
  STREAM_FIELDS,
  streamSpecFromServer,
  withoutDefaults,
} from '../../../src/lib/layout/fields.js'

describe('layout fields', () => {
  it('resolves {name, site} to the other site JetStream domain API, and back', () => {
    const server = sourceToServer({name: 'DV_EVT', site: 'osl1'}, 'trd1')
    expect(server).toEqual({name: 'DV_EVT', external: {api: '$JS.osl1.API', deliver: ''}})
    expect(sourceFromServer(server)).toEqual({name: 'DV_EVT', site: 'osl1'})
    expect(sourceToServer({name: 'DV_EVT', site: 'trd1'}, 'trd1')).toEqual({name: 'DV_EVT'})
  })

  it('converts durations to nanoseconds and writes only the fields a spec sets', () => {
    expect(specToServer(STREAM_FIELDS, {max_age: '14d', duplicate_window: '2m', replicas: 3}, 'osl1')).toEqual({
      max_age: 14 * 86_400 * 1e9,
      duplicate_window: 120e9,
      num_replicas: 3,
    })
  })

  it('exports a live stream without the server defaults but with its retention and storage', () => {
    const live = {
      name: 'A',
      subjects: ['a.>'],
      retention: 'limits',
      storage: 'file',
      max_consumers: -1,
      max_msgs: -1,
      max_bytes: -1,
      max_age: 3_600e9,
      max_msgs_per_subject: -1,
      max_msg_size: -1,
      discard: 'old',
      num_replicas: 1,
      duplicate_window: 120e9,
      allow_direct: false,
      deny_delete: false,
      deny_purge: false,
      allow_rollup_hdrs: false,
    } as unknown as StreamConfig
    expect(withoutDefaults(STREAM_FIELDS, streamSpecFromServer(live))).toEqual({
      subjects: ['a.>'],
      retention: 'limits',
      storage: 'file',
      max_age: '1h',
    })
  })

  it('compares server versions numerically', () => {
    expect(atLeast('2.10.0', '2.10.0')).toBe(true)
    expect(atLeast('2.9.10', '2.10.0')).toBe(false)
    expect(atLeast('2.11.1-beta', '2.10.0')).toBe(true)
    expect(atLeast('garbage', '2.10.0')).toBe(false)
  })
})
