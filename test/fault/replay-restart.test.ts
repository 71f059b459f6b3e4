// Fault: the server is killed (SIGKILL) and restarted in the middle of a `dlq replay --all --yes` of 1,000
// dead letters; the replay is then run again until it reports success. Every dead letter must end up
// replayed exactly once in DV_CMD (JetStream de-duplication on Nats-Msg-Id = replay id, plus the ledger),
// and the ledger must say replayed for all of them. Asserted on the stream contents, not on output.
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {DlqListResult, DlqReplayResult} from '../../src/lib/dlq/model.js'
import {STREAMS} from '../../src/lib/layout/names.js'
import {runCli, type CliResult} from '../helpers/cli.js'
import {command, type DlqSite, startDlqSite} from '../integration/dlq-fixture.js'
import {eventually, readStream, sleep} from './harness.js'

const COUNT = 1000

describe('dlq replay survives a server crash', {timeout: 300_000}, () => {
  let site: DlqSite
  const originals = new Map<number, string>() // DV_CMD seq -> envelope text

  beforeAll(async () => {
    site = await startDlqSite('osl1')
    const js = await site.conn.js()
    const jsm = await site.conn.jsm()
    const acks = []
    for (let i = 0; i < COUNT; i++) {
      const env = command('maskin.server.provision.requested', {data: {server_id: `srv-${i}`, profile: 'small'}})
      const text = JSON.stringify(env)
      acks.push(
        js.publish('dv.maskin.cmd.provision', text, {msgID: String(env.id)}).then((a) => originals.set(a.seq, text)),
      )
    }
    await Promise.all(acks)
    // A worker that terminates every command: one `terminated` advisory per command into DV_DLQ.
    await jsm.consumers.add(STREAMS.cmd, {
      durable_name: 'maskin-term',
      filter_subject: 'dv.maskin.cmd.>',
      ack_policy: 'explicit' as never,
    })
    const consumer = await js.consumers.get(STREAMS.cmd, 'maskin-term')
    let termed = 0
    while (termed < COUNT) {
      const batch = await consumer.fetch({max_messages: 250, expires: 2000})
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
  }, 180_000)

  afterAll(async () => site?.dispose())

  const cli = (...args: string[]) =>
    runCli([...args, '--server', site.server.url, '--timeout', '5s'], {timeoutMs: 240_000})

  it('replays each of 1,000 dead letters exactly once after a kill -9 and a re-run', async () => {
    const jsm = await site.conn.jsm()
    const before = (await jsm.streams.info(STREAMS.cmd)).state.messages
    expect(before).toBe(COUNT)

    // First run, paced (--rate) so that the kill lands half-way, killed once some copies are stored.
    const first: Promise<CliResult> = cli('dlq', 'replay', '--all', '--yes', '--json', '--rate', '300/s')
    const atKill = await eventually(
      async () => {
        const n = (await jsm.streams.info(STREAMS.cmd)).state.messages
        return n > before + 100 ? n : undefined
      },
      120_000,
      'some copies stored',
    )
    await site.server.kill()
    // The crash really happened half-way: some copies stored, not all.
    expect(atKill - before).toBeLessThan(COUNT)
    await sleep(500)
    await site.server.start()
    const firstRun = await first
    // Whatever the first run made of it (carried on after reconnecting, or partial failure): never a bug.
    expect([0, 4, 68], firstRun.stdout + firstRun.stderr).toContain(firstRun.exitCode)

    // Re-run until it reports success (each run only picks up what is still pending or in progress).
    let last: CliResult | undefined
    for (let attempt = 0; attempt < 3; attempt++) {
      last = await cli('dlq', 'replay', '--all', '--yes', '--json')
      if (last.exitCode === 0) break
    }
    expect(last!.exitCode, last!.stdout + last!.stderr).toBe(0)
    DlqReplayResult.parse(last!.json())

    // The stream: every original once, and exactly one byte-identical copy of each.
    const entries = await readStream(site.conn, STREAMS.cmd)
    const copies = new Map<string, typeof entries>()
    for (const e of entries) {
      const of = e.headers['Dv-Replay-Of']
      if (!of) continue
      copies.set(of, [...(copies.get(of) ?? []), e])
    }
    const multiple = [...copies.entries()].filter(([, c]) => c.length > 1).map(([ref, c]) => `${ref} x${c.length}`)
    expect(multiple).toEqual([])
    const missing = [...originals.keys()].filter((seq) => !copies.has(`DV_CMD:${seq}`))
    expect(missing).toEqual([])
    expect(copies.size).toBe(COUNT)
    for (const [seq, text] of originals) expect(copies.get(`DV_CMD:${seq}`)![0].text).toBe(text)
    expect(entries.length).toBe(2 * COUNT)

    // The ledger agrees: nothing pending, all replayed.
    const list = DlqListResult.parse((await cli('dlq', 'list', '--status', 'all', '--json')).json())
    expect(list.dead_letters).toHaveLength(COUNT)
    expect(list.dead_letters.filter((d) => d.status !== 'replayed').map((d) => d.ref)).toEqual([])
  })
})
