import {describe, expect, it} from 'vitest'

import {UserError} from '../../../src/lib/errors.js'
import {neverPruned, ownerOf, requireLayoutName, withMark, withoutMarker} from '../../../src/lib/layout/ownership.js'

describe('the ownership mark', () => {
  it('lives in metadata from 2.10, merged with the declared and live metadata', () => {
    const config = withMark({description: 'Commands', metadata: {team: 'ops'}}, 'dataverket', '2.15.2', {
      metadata: {'_nats.req.level': '0', other: 'x'},
    })
    expect(config).toEqual({
      description: 'Commands',
      metadata: {'_nats.req.level': '0', other: 'x', team: 'ops', 'dvctl.layout': 'dataverket'},
    })
    expect(ownerOf(config)).toBe('dataverket')
  })

  it('is a description suffix on 2.9, which has no metadata', () => {
    expect(withMark({description: 'Commands'}, 'dataverket', '2.9.10')).toEqual({
      description: 'Commands [dvctl:layout=dataverket]',
    })
    expect(withMark({}, 'dataverket', '2.9.10')).toEqual({description: '[dvctl:layout=dataverket]'})
    // Re-marking replaces the old marker instead of stacking a second one.
    const again = withMark({}, 'other', '2.9.10', {description: 'Commands [dvctl:layout=dataverket]'})
    expect(again).toEqual({description: 'Commands [dvctl:layout=other]'})
    expect(ownerOf(again)).toBe('other')
  })

  it('is read from either place, and stripped from what the layout declares', () => {
    expect(ownerOf({description: 'x [dvctl:layout=a b]'})).toBe('a b')
    expect(ownerOf({metadata: {'dvctl.layout': 'm'}, description: 'x [dvctl:layout=d]'})).toBe('m')
    expect(ownerOf({description: 'mentions [dvctl:layout=x] in the middle'})).toBeNull()
    expect(ownerOf({})).toBeNull()
    expect(ownerOf(undefined)).toBeNull()
    expect(withoutMarker('Commands [dvctl:layout=dataverket]')).toBe('Commands')
    expect(withoutMarker('[dvctl:layout=dataverket]')).toBe('')
    expect(withoutMarker('plain')).toBe('plain')
    expect(withoutMarker(undefined)).toBeUndefined()
  })
})

describe('objects never pruned', () => {
  it.each([
    ['consumer', 'JS_SRC_0f1e2d', undefined, 'server-owned'],
    ['consumer', 'JS_SRC_0f1e2d_Xy12', undefined, 'server-owned'],
    ['consumer', 'JS_MIRROR_0f1e2d', undefined, 'server-owned'],
    ['consumer', 'sourcer', {metadata: {'_nats.src.stream': 'X'}}, 'server-owned'],
    ['stream', '$MQTT_msgs', undefined, 'server-owned'],
    ['stream', 'KV_bucket', undefined, 'server-owned'],
    ['stream', 'OBJ_store', undefined, 'server-owned'],
    ['kv', 'dv_dlq_ledger', undefined, 'audit-trail'],
    ['kv', 'dv_dlq_triage', undefined, 'audit-trail'],
    ['stream', 'DV_DLQ_ARCHIVE', undefined, 'audit-trail'],
    ['consumer', 'maskin', undefined, undefined],
    ['stream', 'ORDERS', undefined, undefined],
    ['kv', 'scratch', undefined, undefined],
  ] as const)('%s %s: %s', (kind, name, config, expected) => {
    expect(neverPruned(kind, name, config)).toBe(expected)
  })

  it('--prune and adopt need a named layout (exit 2)', () => {
    expect(requireLayoutName({layout: 'dataverket'}, '--prune')).toBe('dataverket')
    for (const layout of [{}, {layout: '  '}]) {
      const error = (() => {
        try {
          return requireLayoutName(layout, '--prune')
        } catch (e) {
          return e
        }
      })()
      expect(error).toBeInstanceOf(UserError)
      expect((error as UserError).exitCode).toBe(2)
    }
  })
})
