import type {NatsConnection} from '@nats-io/transport-node'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {sandboxFixture, type SandboxFixture} from '../helpers/nats.js'

// Three sites: two leaves (trd1, bgo1) meet only through the hub (osl1). Isolation must hold leaf to leaf too.
describe('sandboxFixture with three sites', () => {
  let sandbox: SandboxFixture
  const conns: Record<string, NatsConnection> = {}
  beforeAll(async () => {
    sandbox = await sandboxFixture({sites: ['osl1', 'trd1', 'bgo1']})
    const {connect} = await import('@nats-io/transport-node')
    for (const s of sandbox.sites) conns[s.name] = await connect({servers: s.url})
  })
  afterAll(async () => {
    for (const nc of Object.values(conns)) await nc.close().catch(() => {})
    await sandbox?.dispose()
  })

  it('runs one hub and two leaves, each its own domain', () => {
    expect(sandbox.sites.map((s) => [s.name, s.role, s.js_domain, s.running])).toEqual([
      ['osl1', 'hub', 'osl1', true],
      ['trd1', 'leaf', 'trd1', true],
      ['bgo1', 'leaf', 'bgo1', true],
    ])
  })

  it('dv.rpc.* crosses from one leaf to the other through the hub; commands do not', async () => {
    const {jetstream, jetstreamManager} = await import('@nats-io/jetstream')
    const sub = conns.trd1.subscribe('dv.rpc.nett.lookup', {
      callback: (_e, m) => {
        m.respond('trd1')
      },
    })
    await conns.trd1.flush()
    let reply = ''
    for (let i = 0; i < 50 && !reply; i++) {
      reply = await conns.bgo1
        .request('dv.rpc.nett.lookup', '', {timeout: 500})
        .then((m) => m.string())
        .catch(async () => {
          await new Promise((r) => setTimeout(r, 100))
          return ''
        })
    }
    sub.unsubscribe()
    expect(reply).toBe('trd1')

    await jetstream(conns.bgo1).publish('dv.nett.cmd.apply', '{}')
    // The rpc round trip above used the same links; one more makes sure the publish has had its chance to leak.
    const barrier = conns.trd1.subscribe('dv.rpc.nett.barrier', {
      callback: (_e, m) => {
        m.respond('ok')
      },
    })
    await conns.trd1.flush()
    for (let i = 0; i < 50; i++) {
      const ok = await conns.bgo1.request('dv.rpc.nett.barrier', '', {timeout: 500}).then(
        () => true,
        () => false,
      )
      if (ok) break
    }
    barrier.unsubscribe()
    const count = async (site: string) =>
      (await (await jetstreamManager(conns[site])).streams.info('DV_CMD')).state.messages
    expect(await count('bgo1')).toBe(1)
    expect(await count('trd1')).toBe(0)
    expect(await count('osl1')).toBe(0)
  })
})
