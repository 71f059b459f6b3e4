import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {DoctorResult} from '../../src/lib/doctor/check.js'
import {DLQ_ADVISORY_SUBJECTS} from '../../src/lib/layout/names.js'
import {connectSite, type SiteConnection} from '../../src/lib/nats/connection.js'
import {freePort} from '../../src/lib/sandbox/nats-server.js'
import {runCommand} from '../helpers/run.js'
import {waitFor} from '../helpers/wait.js'
import {natsFixture, type NatsServerHandle} from '../helpers/nats.js'

describe('doctor on one site', {timeout: 90_000}, () => {
  let server: NatsServerHandle
  // A healthy standard site runs dlq capture: DV_CMD keeps commands for less time than DV_DLQ keeps dead letters.
  const capture = new AbortController()
  let captured: Promise<unknown>
  beforeAll(async () => {
    server = await natsFixture({name: 'osl1', layout: true})
    captured = runCommand(['dlq', 'capture', '--server', server.url], {signal: capture.signal})
    await waitFor(
      async () => {
        const r = await runCommand(['doctor', '--server', server.url, '--json'])
        return DoctorResult.parse(r.json()).sites[0].dlq_archive?.capture_running ? true : undefined
      },
      {what: 'a fresh capture heartbeat'},
    )
  })
  afterAll(async () => {
    capture.abort()
    await captured
    await server?.dispose()
  })

  it('reports a healthy site: version, domain, no drift, DV_DLQ capturing, every service consumer', async () => {
    const r = await runCommand(['doctor', '--server', server.url, '--json'])
    expect(r.exitCode).toBe(0)
    const result = DoctorResult.parse(r.json())
    expect(result.healthy).toBe(true)
    const [site] = result.sites
    expect(site).toMatchObject({
      reachable: true,
      server_version: expect.stringMatching(/^2\./),
      jetstream: {enabled: true, domain: 'osl1'},
      layout: {name: 'dataverket', drift: false, changes: []},
      dlq_capture: {present: true, missing_subjects: []},
      dlq_archive: {present: true, capture_running: true, last_heartbeat: expect.any(String), originals_at_risk: false},
      dead_letters_pending: 0,
      oldest_unacked: null,
      problems: [],
    })
    expect(site.consumers.map((c) => c.name)).toEqual([
      'identitet',
      'maskin',
      'nett',
      'objekt',
      'plattform',
      'sentral',
      'tjeneste',
    ])
  })

  it('reports an unacknowledged command with its age and the backlog per consumer', async () => {
    const pub = await runCommand([
      'publish',
      'dv.maskin.cmd.provision',
      '--data',
      '{"server_id":"srv-9","profile":"small"}',
      '--server',
      server.url,
      '--json',
    ])
    expect(pub.exitCode).toBe(0)
    const seq = pub.json().seq
    const r = await runCommand(['doctor', '--server', server.url, '--json'])
    expect(r.exitCode).toBe(0)
    const [site] = DoctorResult.parse(r.json()).sites
    expect(site.consumers.find((c) => c.name === 'maskin')).toMatchObject({pending: 1, redelivered: 0})
    expect(site.oldest_unacked).toMatchObject({stream: 'DV_CMD', consumer: 'maskin', seq})
    expect(site.oldest_unacked!.age_ms).toBeGreaterThanOrEqual(0)
    expect(site.warnings.map((w) => w.code)).toEqual(['consumer-backlog'])
  })

  it('reports drift and exits 10 after a stream was deleted by hand; the table names the problem', async () => {
    const conn = await connectSite({name: 'osl1', servers: [server.url]}, {timeoutMs: 5000})
    try {
      await (await conn.jsm()).streams.delete('DV_DLQ')
    } finally {
      await conn.close()
    }
    const r = await runCommand(['doctor', '--server', server.url, '--json'])
    expect(r.exitCode).toBe(10)
    const [site] = DoctorResult.parse(r.json()).sites
    // The stream and its dlq_capture consumer.
    expect(site.layout).toMatchObject({
      drift: true,
      changes: [
        {kind: 'stream', name: 'DV_DLQ', action: 'create'},
        {kind: 'consumer', stream: 'DV_DLQ', name: 'dlq_capture', action: 'create'},
      ],
    })
    expect(site.dlq_capture).toEqual({present: false, missing_subjects: [...DLQ_ADVISORY_SUBJECTS]})
    expect(site.problems.map((p) => p.code).sort()).toEqual(['dlq-capture-missing', 'layout-drift'])

    const human = await runCommand(['doctor', '--server', server.url])
    expect(human.exitCode).toBe(10)
    expect(human.stdout).toContain('drift (2)')
    expect(human.stdout).toMatch(/problem .*create stream DV_DLQ/)
  })

  it('exits 4 within the timeout when the server is down', async () => {
    const url = `nats://127.0.0.1:${await freePort()}`
    const r = await runCommand(['doctor', '--server', url, '--timeout', '1s', '--json'], {timeoutMs: 20_000})
    expect(r.exitCode).toBe(4)
    const [site] = DoctorResult.parse(r.json()).sites
    expect(site).toMatchObject({reachable: false, problems: [{code: 'connection-refused'}]})
  })

  it('exits 2 for a layout file that does not exist', async () => {
    const r = await runCommand(['doctor', '--server', server.url, '--layout', '/nonexistent/layout.yaml'])
    expect(r.exitCode).toBe(2)
    expect(r.stderr).not.toMatch(/at .*\.js:\d+/)
  })
})

describe('doctor and cross-site sources', {timeout: 90_000}, () => {
  let hub: NatsServerHandle
  let leaf: NatsServerHandle
  let conn: SiteConnection
  beforeAll(async () => {
    hub = await natsFixture({name: 'osl1', leafListen: true, layout: true})
    leaf = await natsFixture({name: 'trd1', leafRemotes: [hub.leafUrl!], layout: true})
    conn = await connectSite({name: 'trd1', servers: [leaf.url]}, {timeoutMs: 5000})
    // trd1 keeps a copy of osl1's events, read through osl1's JetStream domain over the leaf-node link.
    await (
      await conn.jsm()
    ).streams.add({name: 'XS_OSL1_EVT', sources: [{name: 'DV_EVT', external: {api: '$JS.osl1.API', deliver: ''}}]})
  })
  afterAll(async () => {
    await conn?.close()
    await leaf?.dispose()
    await hub?.dispose()
  })

  it('reports a stalled source (exit 10) while the other site is down', async () => {
    // A source just created has not heard from its origin yet (no activity time: stalled); wait until it has.
    const before = await waitFor(
      async () => {
        const d = DoctorResult.parse((await runCommand(['doctor', '--server', leaf.url, '--json'])).json())
        return d.sites[0].sources[0]?.stalled === false && d
      },
      {what: 'the new source active'},
    )
    expect(before.sites[0].sources).toMatchObject([
      {stream: 'XS_OSL1_EVT', source: 'DV_EVT', api: '$JS.osl1.API', kind: 'source', stalled: false},
    ])
    // No dlq capture runs on these fixture sites: that problem is not this test's.
    expect(before.sites[0].problems.filter((p) => p.code !== 'dlq-originals-at-risk')).toEqual([])

    await hub.stop()
    // Once the source has been silent for longer than --stall-after, doctor says so.
    const r = await waitFor(
      async () => {
        const d = await runCommand(['doctor', '--server', leaf.url, '--stall-after', '2s', '--json'])
        return d.exitCode === 10 && DoctorResult.parse(d.json()).sites[0].sources[0]?.stalled && d
      },
      {what: 'doctor reporting the silent source'},
    )
    expect(r.exitCode).toBe(10)
    const [site] = DoctorResult.parse(r.json()).sites
    expect(site.sources[0]).toMatchObject({stream: 'XS_OSL1_EVT', stalled: true})
    expect(site.problems.map((p) => p.code)).toContain('source-stalled')
    expect(site.layout?.drift).toBe(false)
  })
})
