import {describe, expect, it} from 'vitest'

import {advisoryTime, commandStreams, declaredFilters, replayTargetProblem} from '../../../src/lib/dlq/provenance.js'
import {dataverketLayout} from '../../../src/lib/layout/dataverket.js'
import {layoutForSite} from '../../../src/lib/layout/resolve.js'
import type {Layout} from '../../../src/lib/layout/schema.js'

describe('which streams and filters the layout declares for commands', () => {
  it('the standard layout has one command stream, DV_CMD, and a filter per service consumer', () => {
    const layout = layoutForSite(dataverketLayout(), 'osl1')
    expect([...commandStreams(layout)]).toEqual(['DV_CMD'])
    expect(declaredFilters(layout, 'DV_CMD', 'maskin')).toEqual(['dv.maskin.cmd.>'])
    expect(declaredFilters(layout, 'DV_CMD', 'nosuch')).toBeUndefined()
    expect(declaredFilters(layout, 'DV_EVT', 'maskin')).toBeUndefined()
  })

  it('derives command streams from subjects: a stream of cmd subjects only, not a mixed or sourced one', () => {
    const base = dataverketLayout()
    const layout: Layout = {
      ...base,
      streams: {
        ...base.streams,
        ORDERS_CMD: {subjects: ['dv.objekt.cmd.>', 'dv.nett.cmd.apply']},
        MIXED: {subjects: ['dv.objekt.cmd.>', 'dv.objekt.evt.>']},
        XS_CMD: {subjects: ['dv.sentral.cmd.>'], sources: [{name: 'DV_CMD', site: 'osl1'}]},
        MULTI: {
          subjects: ['dv.nett.cmd.>'],
          consumers: {nett: {filter_subjects: ['dv.nett.cmd.apply', 'dv.nett.cmd.remove']}, all: {}},
        },
      },
    }
    const site = layoutForSite(layout, 'trd1')
    expect([...commandStreams(site)].sort()).toEqual(['DV_CMD', 'MULTI', 'ORDERS_CMD'])
    expect(declaredFilters(site, 'MULTI', 'nett')).toEqual(['dv.nett.cmd.apply', 'dv.nett.cmd.remove'])
    // A consumer declared without a filter sees every subject of its stream.
    expect(declaredFilters(site, 'MULTI', 'all')).toEqual(['dv.nett.cmd.>'])
  })
})

describe('advisoryTime', () => {
  it('is the advisory timestamp, never later than when DV_DLQ stored it', () => {
    const stored = '2026-01-01T00:00:10Z'
    expect(advisoryTime({timestamp: '2026-01-01T00:00:09.5Z'}, stored)).toBe(Date.parse('2026-01-01T00:00:09.5Z'))
    // A timestamp in the future (forged, or another clock) is capped by the stored time.
    expect(advisoryTime({timestamp: '2030-01-01T00:00:00Z'}, stored)).toBe(Date.parse(stored))
    // No timestamp (real servers always send one): the stored time, an upper bound.
    expect(advisoryTime({timestamp: null}, stored)).toBe(Date.parse(stored))
  })
})

describe('replayTargetProblem: a replay only publishes commands', () => {
  it('accepts concrete dv.<service>.cmd.<action> subjects', () => {
    expect(replayTargetProblem('dv.maskin.cmd.provision')).toBeUndefined()
  })
  it('refuses server and client namespaces, other families, filters and malformed subjects', () => {
    for (const s of [
      '$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.DV_CMD.maskin',
      '$js.api.stream.delete.DV_CMD',
      '$KV.dv_dlq_ledger.DV_CMD.1',
      '$SYS.REQ.SERVER.PING',
      '$O.bucket.x',
      '_INBOX.abc',
      'dv.maskin.evt.server.provisioned',
      'dv.task.evt.failed',
      'dv.rpc.maskin.status',
      'dv.maskin.cmd.>',
      'dv.maskin.cmd',
      'dv.nosuch.cmd.x',
      '',
    ]) {
      expect(replayTargetProblem(s), s).toBeTruthy()
    }
  })
})
