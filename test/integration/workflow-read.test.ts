import type {NatsConnection} from '@nats-io/transport-node'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {connectSite, type SiteConnection} from '../../src/lib/nats/connection.js'
import {readWorkflow, WorkflowResult} from '../../src/lib/workflow/read.js'
import {natsFixture, type NatsServerHandle} from '../helpers/nats.js'
import {connectTo, ensureStreams, seedWorkflow, type SeededWorkflow} from './workflow-seed.js'

/** readWorkflow against two real servers, one per site (the service that `workflow show` and `dlq show` use). */
describe('readWorkflow across two sites', () => {
  let osl1: NatsServerHandle
  let trd1: NatsServerHandle
  let a: NatsConnection
  let b: NatsConnection
  let connA: SiteConnection
  let connB: SiteConnection
  let seeded: SeededWorkflow

  beforeAll(async () => {
    ;[osl1, trd1] = await Promise.all([natsFixture({name: 'osl1'}), natsFixture({name: 'trd1'})])
    ;[a, b] = await Promise.all([connectTo(osl1.url), connectTo(trd1.url)])
    await Promise.all([ensureStreams(a), ensureStreams(b)])
    seeded = await seedWorkflow(a, b, 3000)
    connA = await connectSite({name: 'osl1', servers: [osl1.url], js_domain: 'osl1'}, {timeoutMs: 5000})
    connB = await connectSite({name: 'trd1', servers: [trd1.url], js_domain: 'trd1'}, {timeoutMs: 5000})
  })
  afterAll(async () => {
    await Promise.allSettled([a?.close(), b?.close(), connA?.close(), connB?.close()])
    await Promise.allSettled([osl1?.dispose(), trd1?.dispose()])
  })

  it('finds every message of the correlation and nothing else, with the right parents', async () => {
    const result = WorkflowResult.parse(
      await readWorkflow([connA, connB], {correlationId: seeded.correlationId, window: {}}),
    )
    const ids = result.messages.map((m) => m.id).sort()
    expect(ids).toEqual([...seeded.siteA, ...seeded.siteB].sort())
    for (const m of result.messages) expect(m.envelope.correlation_id).toBe(seeded.correlationId)
    // The tree: each message under its causation parent, even across sites.
    const parentOf = new Map<string, string | null>()
    const visit = (nodes: WorkflowResult['tree'], parent: string | null) => {
      for (const n of nodes) {
        parentOf.set(n.id, parent)
        visit(n.children, n.id)
      }
    }
    visit(result.tree, null)
    for (const [id, parent] of Object.entries(seeded.parents)) expect(parentOf.get(id), id).toBe(parent)
    expect(result.roots).toEqual([seeded.ids.command])
    expect(result.orphans).toEqual([seeded.ids.orphan])
    // The remote command was delivered twice: shown once, counted.
    expect(result.duplicates).toEqual([expect.objectContaining({id: seeded.ids.remoteCommand, count: 2})])
    expect(result.failures).toEqual([seeded.ids.remoteTaskFailed])
    expect(result.dead_letters).toEqual([
      expect.objectContaining({
        ref: `trd1/DV_CMD:${seeded.remoteCommandSeq}`,
        site: 'trd1',
        id: seeded.ids.remoteCommand,
        reason: 'max_deliveries',
        deliveries: 5,
      }),
    ])
    expect(result.status).toBe('dead-lettered')
    expect(result.sites).toEqual([{site: 'osl1'}, {site: 'trd1'}])
    expect(result.scanned).toBeGreaterThan(4000)
  })

  it('gives one site’s part with the other reported unreachable', async () => {
    const result = await readWorkflow([connA], {
      correlationId: seeded.correlationId,
      window: {},
      unreachable: [{site: 'trd1', url: trd1.url, error: 'connection refused'}],
    })
    expect(result.messages.map((m) => m.id).sort()).toEqual([...seeded.siteA].sort())
    expect(result.sites).toEqual([{site: 'osl1'}, {site: 'trd1', error: 'connection refused'}])
    expect(result.tasks).toEqual([expect.objectContaining({state: 'succeeded'})])
    expect(result.status).toBe('succeeded')
  })

  it('bounds the read by time', async () => {
    const result = await readWorkflow([connA, connB], {
      correlationId: seeded.correlationId,
      window: {from: new Date(Date.now() + 60_000)},
    })
    expect(result.messages).toEqual([])
  })
})
