import {mkdtemp, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {stringify} from 'yaml'

import {LayoutResult} from '../../src/lib/layout/apply.js'
import {dataverketLayout} from '../../src/lib/layout/dataverket.js'
import {STREAMS} from '../../src/lib/layout/names.js'
import {connectSite, type SiteConnection} from '../../src/lib/nats/connection.js'
import {runCommand} from '../helpers/run.js'
import {natsFixture, type NatsServerHandle} from '../helpers/nats.js'

/** Polls until `check` holds; the bound only keeps a broken link from hanging the suite. */
async function eventually<T>(read: () => Promise<T>, check: (value: T) => boolean, ms = 15_000): Promise<T> {
  const end = Date.now() + ms
  for (;;) {
    const value = await read()
    if (check(value) || Date.now() > end) return value
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
}

describe('a stream on trd1 sourcing DV_EVT from osl1 over a leaf node', {timeout: 60_000}, () => {
  let osl1: NatsServerHandle
  let trd1: NatsServerHandle
  let osl1Conn: SiteConnection
  let trd1Conn: SiteConnection
  let file: string

  beforeAll(async () => {
    osl1 = await natsFixture({name: 'osl1', leafListen: true})
    trd1 = await natsFixture({name: 'trd1', leafRemotes: [osl1.leafUrl!]})
    osl1Conn = await connectSite({name: 'osl1', servers: [osl1.url]}, {timeoutMs: 5000})
    trd1Conn = await connectSite({name: 'trd1', servers: [trd1.url]}, {timeoutMs: 5000})
    const layout = dataverketLayout()
    layout.sites = {trd1: {streams: {XS_OSL1_EVT: {sources: [{name: STREAMS.evt, site: 'osl1'}]}}}}
    file = join(await mkdtemp(join(tmpdir(), 'dvctl-xsite-')), 'layout.yaml')
    await writeFile(file, stringify(layout))
  })
  afterAll(async () => {
    await Promise.allSettled([osl1Conn?.close(), trd1Conn?.close()])
    await trd1?.dispose()
    await osl1?.dispose()
  })

  it('applies the site override only on trd1, resolving the source to the osl1 domain API', async () => {
    const onOsl1 = await runCommand(['layout', 'apply', file, '--yes', '--json', '--server', osl1.url])
    expect(onOsl1.exitCode).toBe(0)
    const osl1Result = LayoutResult.parse(onOsl1.json())
    expect(osl1Result.site).toBe('osl1')
    expect(osl1Result.changes.map((c) => c.name)).not.toContain('XS_OSL1_EVT')

    const onTrd1 = await runCommand(['layout', 'apply', file, '--yes', '--json', '--server', trd1.url])
    expect(onTrd1.exitCode).toBe(0)
    const trd1Result = LayoutResult.parse(onTrd1.json())
    expect(trd1Result.site).toBe('trd1')
    expect(trd1Result.changes.find((c) => c.name === 'XS_OSL1_EVT')).toMatchObject({kind: 'stream', action: 'create'})
    const source = (await (await trd1Conn.jsm()).streams.info('XS_OSL1_EVT')).config.sources
    expect(source).toEqual([
      expect.objectContaining({name: STREAMS.evt, external: expect.objectContaining({api: '$JS.osl1.API'})}),
    ])

    const again = await runCommand(['layout', 'plan', file, '--fail-on-drift', '--server', trd1.url])
    expect(again.exitCode).toBe(0)
  })

  it('carries an event published on osl1 into the sourcing stream on trd1, and only there', async () => {
    const js = await osl1Conn.js()
    const ack = await js.publish('dv.maskin.evt.server.provisioned', JSON.stringify({specversion: '1.0', id: 'x1'}))
    expect(ack.stream).toBe(STREAMS.evt)
    const jsm = await trd1Conn.jsm()
    const info = await eventually(
      () => jsm.streams.info('XS_OSL1_EVT'),
      (i) => i.state.messages >= 1,
    )
    expect(info.state.messages).toBe(1)
    const msg = await jsm.streams.getMessage('XS_OSL1_EVT', {seq: info.state.first_seq})
    expect(msg?.subject).toBe('dv.maskin.evt.server.provisioned')
    expect(msg?.json<{id: string}>().id).toBe('x1')
    // The leaf link denies dv.*.evt.>, so trd1's own DV_EVT never captured the osl1 event.
    expect((await jsm.streams.info(STREAMS.evt)).state.messages).toBe(0)
  })
})
