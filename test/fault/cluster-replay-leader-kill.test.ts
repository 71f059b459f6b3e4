// Fault: a `--cluster 3` sandbox site (DV_CMD at R3). The DV_CMD stream leader's nats-server is killed
// (SIGKILL) in the middle of a `dlq replay --all --yes` of 200 dead letters; the replay is then run again
// (the killed node stays down: two of three nodes keep the quorum) until it exits 0. Every dead letter must
// end up with exactly one copy in DV_CMD, found by the copies' Dv-Replay-Of header; a run never fails with
// an internal error (exit 1) because a leader changed. Asserted on the stream contents.
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {DlqListResult, DlqReplayResult} from '../../src/lib/dlq/model.js'
import {STREAMS} from '../../src/lib/layout/names.js'
import {connectSite, type SiteConnection} from '../../src/lib/nats/connection.js'
import {runCli, type CliResult} from '../helpers/cli.js'
import {sandboxFixture, type SandboxFixture} from '../helpers/nats.js'
import {command} from '../integration/dlq-fixture.js'
import {eventually, readStream} from './harness.js'

const COUNT = 200

describe('dlq replay on a three-node cluster when the DV_CMD leader is killed', {timeout: 600_000}, () => {
  let fx: SandboxFixture
  let conn: SiteConnection
  const originals = new Map<number, string>() // DV_CMD seq -> envelope text

  beforeAll(async () => {
    fx = await sandboxFixture({sites: ['osl1'], cluster: 3})
    const site = fx.sites[0]
    conn = await connectSite({name: 'osl1', servers: site.servers, js_domain: 'osl1'}, {timeoutMs: 15_000})
    const js = await conn.js()
    const jsm = await conn.jsm()
    await Promise.all(
      Array.from({length: COUNT}, async (_, i) => {
        const env = command('maskin.server.provision.requested', {data: {server_id: `srv-${i}`, profile: 'small'}})
        const text = JSON.stringify(env)
        const ack = await js.publish('dv.maskin.cmd.provision', text, {msgID: String(env.id)})
        originals.set(ack.seq, text)
      }),
    )
    // The layout's maskin consumer (R3, inherited from DV_CMD) terminates every command: one `terminated`
    // advisory per command, captured by DV_DLQ.
    const consumer = await js.consumers.get(STREAMS.cmd, 'maskin')
    let termed = 0
    while (termed < COUNT) {
      const batch = await consumer.fetch({max_messages: 100, expires: 2000})
      for await (const m of batch) {
        m.term()
        termed++
      }
    }
    await eventually(
      async () => ((await jsm.streams.info(STREAMS.dlq)).state.messages === COUNT ? true : undefined),
      60_000,
      `${COUNT} advisories in DV_DLQ`,
    )
  }, 240_000)

  afterAll(async () => {
    await conn?.close()
    await fx?.dispose()
  })

  const cli = (...args: string[]) =>
    runCli([...args, '--site', 'osl1', '--timeout', '5s'], {env: {DVCTL_CONFIG: fx.config}, timeoutMs: 240_000})

  it('leaves exactly one copy of each dead letter in DV_CMD after a leader kill and re-runs', async () => {
    const site = fx.sites[0]
    expect(site.nodes).toHaveLength(3)
    const jsm = await conn.jsm()
    const info = await jsm.streams.info(STREAMS.cmd)
    expect(info.config.num_replicas).toBe(3)
    const before = info.state.messages
    expect(before).toBe(COUNT)

    // Paced (--rate) so that the kill lands while copies are still being sent.
    const first: Promise<CliResult> = cli('dlq', 'replay', '--all', '--yes', '--json', '--rate', '40/s')
    const atKill = await eventually(
      async () => {
        const s = await jsm.streams.info(STREAMS.cmd)
        return s.state.messages >= before + 20 ? s : undefined
      },
      120_000,
      'some copies stored',
    )
    const leader = atKill.cluster?.leader
    const victim = site.nodes.find((n) => n.name === leader)
    expect(victim, `leader ${leader} among ${site.nodes.map((n) => n.name).join(',')}`).toBeDefined()
    process.kill(victim!.pid, 'SIGKILL')
    // The kill really landed part-way: some copies stored, not all.
    expect(atKill.state.messages - before).toBeLessThan(COUNT)

    const runs: CliResult[] = [await first]
    // Re-run until it reports success; each run picks up only what is still pending or in progress.
    while (runs.at(-1)!.exitCode !== 0 && runs.length < 6) {
      runs.push(await cli('dlq', 'replay', '--all', '--yes', '--json'))
    }
    // A leader change is never an internal error: success, or a partial result (68) / unavailable (4).
    for (const r of runs) expect([0, 4, 68], r.stdout + r.stderr).toContain(r.exitCode)
    const last = runs.at(-1)!
    expect(last.exitCode, last.stdout + last.stderr).toBe(0)
    DlqReplayResult.parse(last.json())

    // The stream: every original once, and exactly one byte-identical copy of each.
    const entries = await eventually(
      async () => {
        const all = await readStream(conn, STREAMS.cmd)
        return all.length >= 2 * COUNT ? all : undefined
      },
      60_000,
      'all copies readable',
    )
    const copies = new Map<string, typeof entries>()
    for (const e of entries) {
      const of = e.headers['Dv-Replay-Of']
      if (of) copies.set(of, [...(copies.get(of) ?? []), e])
    }
    const multiple = [...copies.entries()].filter(([, c]) => c.length > 1).map(([ref, c]) => `${ref} x${c.length}`)
    expect(multiple).toEqual([])
    const missing = [...originals.keys()].filter((seq) => !copies.has(`DV_CMD:${seq}`))
    expect(missing).toEqual([])
    expect(copies.size).toBe(COUNT)
    for (const [seq, text] of originals) expect(copies.get(`DV_CMD:${seq}`)![0].text).toBe(text)
    expect(entries.length).toBe(2 * COUNT)

    // The ledger agrees: nothing left pending.
    // With a server down, a read can still meet a request nobody answers (the server may place the read's
    // consumer on the dead peer for a while): that is exit 4, "run again", never a bug.
    let listed = await cli('dlq', 'list', '--status', 'all', '--json')
    for (let attempt = 1; listed.exitCode === 4 && attempt < 3; attempt++) {
      listed = await cli('dlq', 'list', '--status', 'all', '--json')
    }
    expect(listed.exitCode, listed.stdout + listed.stderr).toBe(0)
    const list = DlqListResult.parse(listed.json())
    expect(list.dead_letters).toHaveLength(COUNT)
    expect(list.dead_letters.filter((d) => d.status !== 'replayed').map((d) => d.ref)).toEqual([])
  })
})
