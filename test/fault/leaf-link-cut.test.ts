// Fault: the leaf-node link between two sites is cut (both servers stay up) while trd1 declares a stream
// sourcing osl1's DV_EVT through osl1's JetStream domain. While cut, `dvctl doctor` on trd1 must report the
// stalled source; once the link returns, the sourced stream must catch up with every event osl1 stored,
// in order, with no gap and no repeat. The link runs through a TCP proxy owned by this test, so cutting it
// is closing the proxy's sockets and refusing new ones.
import {createServer, type Server, type Socket, connect as tcpConnect} from 'node:net'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {DoctorResult} from '../../src/lib/doctor/check.js'
import {STREAMS} from '../../src/lib/layout/names.js'
import {connectSite, type SiteConnection} from '../../src/lib/nats/connection.js'
import {freePort} from '../../src/lib/sandbox/nats-server.js'
import {runCli} from '../helpers/cli.js'
import {natsFixture, type NatsServerHandle} from '../helpers/nats.js'
import {waitFor} from '../helpers/wait.js'
import {command} from '../integration/dlq-fixture.js'
import {eventually, readStream} from './harness.js'

/** A TCP relay that can be cut (every socket closed, new ones refused) and restored. */
class CuttableLink {
  private readonly sockets = new Set<Socket>()
  private cut = false
  private server?: Server
  constructor(
    readonly port: number,
    private readonly target: number,
  ) {}

  async open(): Promise<void> {
    this.server = createServer((client) => {
      if (this.cut) return client.destroy()
      const upstream = tcpConnect(this.target, '127.0.0.1')
      for (const s of [client, upstream]) {
        this.sockets.add(s)
        s.on('close', () => this.sockets.delete(s))
        s.on('error', () => s.destroy())
      }
      client.pipe(upstream).pipe(client)
      client.on('close', () => upstream.destroy())
      upstream.on('close', () => client.destroy())
    })
    await new Promise<void>((resolve) => this.server!.listen(this.port, '127.0.0.1', resolve))
  }

  sever(): void {
    this.cut = true
    for (const s of this.sockets) s.destroy()
  }

  restore(): void {
    this.cut = false
  }

  async close(): Promise<void> {
    this.sever()
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()))
  }
}

describe('cross-site source over a leaf-node link that is cut', {timeout: 180_000}, () => {
  let osl1: NatsServerHandle
  let trd1: NatsServerHandle
  let link: CuttableLink
  let osl1Conn: SiteConnection
  let trd1Conn: SiteConnection

  beforeAll(async () => {
    // The hub advertises the proxy as its leaf-node address: a leaf that learnt the real one (leaf-node URL
    // gossip, even with no_advertise on 2.9) reconnects around the proxy and the cut heals itself.
    const hubLeafPort = await freePort()
    const proxyPort = await freePort()
    osl1 = await natsFixture({
      name: 'osl1',
      layout: true,
      extraConfig: `leafnodes {\n  listen: "127.0.0.1:${hubLeafPort}"\n  advertise: "127.0.0.1:${proxyPort}"\n}`,
    })
    link = new CuttableLink(proxyPort, hubLeafPort)
    await link.open()
    trd1 = await natsFixture({name: 'trd1', leafRemotes: [`nats-leaf://127.0.0.1:${link.port}`], layout: true})
    osl1Conn = await connectSite({name: 'osl1', servers: [osl1.url]}, {timeoutMs: 5000})
    trd1Conn = await connectSite({name: 'trd1', servers: [trd1.url]}, {timeoutMs: 5000})
    await (
      await trd1Conn.jsm()
    ).streams.add({name: 'XS_OSL1_EVT', sources: [{name: STREAMS.evt, external: {api: '$JS.osl1.API', deliver: ''}}]})
  }, 90_000)

  afterAll(async () => {
    await Promise.allSettled([osl1Conn?.close(), trd1Conn?.close()])
    await link?.close()
    await Promise.allSettled([trd1?.dispose(), osl1?.dispose()])
  })

  const sent: string[] = []
  async function publishEvents(n: number) {
    const js = await osl1Conn.js()
    for (let i = 0; i < n; i++) {
      const env = command('maskin.server.provisioned', {source: 'maskin', data: {server_id: `srv-${sent.length}`}})
      await js.publish('dv.maskin.evt.server.provisioned', JSON.stringify(env), {msgID: String(env.id)})
      sent.push(String(env.id))
    }
  }
  const sourcedIds = async () =>
    (await readStream(trd1Conn, 'XS_OSL1_EVT')).map((e) => String((JSON.parse(e.text) as {id: string}).id))
  const sourcedCount = async () => (await (await trd1Conn.jsm()).streams.info('XS_OSL1_EVT')).state.messages

  it('reports the stalled source while cut, and catches up without gaps or repeats once restored', async () => {
    await publishEvents(20)
    await eventually(async () => ((await sourcedCount()) === 20 ? true : undefined), 30_000, 'first 20 sourced')

    link.sever()
    // Cut for real: trd1 no longer reaches osl1's JetStream across the leaf link.
    await waitFor(
      () =>
        trd1Conn.nc.request('$JS.osl1.API.INFO', '', {timeout: 1000}).then(
          () => false,
          () => true,
        ),
      {what: 'osl1 unreachable from trd1'},
    )
    await publishEvents(30) // stored on osl1 while trd1 cannot reach it
    // The source has heard nothing for longer than doctor's --stall-after below (as the server reports it).
    await waitFor(
      async () => {
        const source = (await (await trd1Conn.jsm()).streams.info('XS_OSL1_EVT')).sources?.[0]
        return source !== undefined && (source.active < 0 || source.active > 2_500_000_000)
      },
      {what: 'the source silent for 2.5 s'},
    )
    expect(await sourcedCount()).toBe(20)

    const doctor = await runCli(['doctor', '--server', trd1.url, '--stall-after', '2s', '--json'], {timeoutMs: 60_000})
    expect(doctor.exitCode, doctor.stdout + doctor.stderr).toBe(10)
    const [site] = DoctorResult.parse(doctor.json()).sites
    expect(site.sources.find((s) => s.stream === 'XS_OSL1_EVT')).toMatchObject({stalled: true})
    expect(site.problems.map((p) => p.code)).toContain('source-stalled')

    link.restore()
    await publishEvents(10)
    await eventually(async () => ((await sourcedCount()) >= 60 ? true : undefined), 90_000, 'catch-up to 60')
    // One more, sourced after everything before it: any repeat of an earlier message would be stored first.
    await publishEvents(1)
    await eventually(async () => ((await sourcedIds()).at(-1) === sent.at(-1) ? true : undefined), 30_000, 'marker')
    expect(await sourcedIds()).toEqual(sent)

    const healthy = await runCli(['doctor', '--server', trd1.url, '--stall-after', '2s', '--json'], {timeoutMs: 60_000})
    const [after] = DoctorResult.parse(healthy.json()).sites
    expect(after.sources.find((s) => s.stream === 'XS_OSL1_EVT')).toMatchObject({stalled: false})
  })
})
