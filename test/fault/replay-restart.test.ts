// Fault: the server is killed (SIGKILL) in the middle of a `dlq replay --all --yes` of 1,000 dead letters,
// at the point that matters: copies are stored and acknowledged while their chunk's replay journal still
// holds only its `replaying` record (the `replayed` record, with each copy's sequence, follows the chunk).
// With the server back, ONE re-run must finish: the copies stored before the crash but not recorded come
// back as JetStream duplicates of the same replay ids (Nats-Msg-Id), the rest are sent once. Every dead
// letter ends up replayed exactly once in DV_CMD, and the ledger says replayed for all of them. Asserted on
// the stream and the ledger, not on output.
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {Ledger} from '../../src/lib/dlq/ledger.js'
import {DlqReplayResult} from '../../src/lib/dlq/model.js'
import {STREAMS} from '../../src/lib/layout/names.js'
import {runCli} from '../helpers/cli.js'
import {waitFor} from '../helpers/wait.js'
import {type DlqSite, startDlqSite} from '../integration/dlq-fixture.js'
import {expectEachReplayedOnce, readStream, seedDeadLetters} from './harness.js'

const COUNT = 1000

describe('dlq replay survives a server crash', {timeout: 300_000}, () => {
  let site: DlqSite
  let originals: Map<number, string> // DV_CMD seq -> envelope text

  beforeAll(async () => {
    site = await startDlqSite('osl1')
    originals = await seedDeadLetters(site.conn, COUNT, {fetchBatch: 250})
  }, 180_000)

  afterAll(async () => site?.dispose())

  const cli = (...args: string[]) =>
    runCli([...args, '--server', site.server.url, '--timeout', '5s'], {timeoutMs: 240_000})

  it('replays each of 1,000 dead letters exactly once after a kill -9 and one re-run', async () => {
    const jsm = await site.conn.jsm()
    const before = (await jsm.streams.info(STREAMS.cmd)).state.messages
    expect(before).toBe(COUNT)

    // First run, paced (--rate) so that the kill lands half-way: killed once some copies are stored.
    const first = cli('dlq', 'replay', '--all', '--yes', '--json', '--rate', '300/s')
    const atKill = await waitFor(
      async () => {
        const n = (await jsm.streams.info(STREAMS.cmd)).state.messages
        return n > before + 100 && n
      },
      {timeoutMs: 120_000, what: 'some copies stored'},
    )
    await site.server.kill()
    // The server stays down until the run has noticed and stopped: a partial result, never a hang or a bug.
    const firstRun = await first
    expect(firstRun.exitCode, firstRun.stdout + firstRun.stderr).toBe(68)
    const partial = DlqReplayResult.parse(firstRun.json())
    expect(partial.replayed.length).toBeGreaterThan(0)
    expect(partial.not_attempted.length).toBeGreaterThan(0)

    // Back up: wait until its JetStream serves DV_CMD again (restored from the store), then read the state
    // the crash left, from the server itself.
    await site.server.start()
    const stored =
      (await waitFor(async () => (await jsm.streams.info(STREAMS.cmd)).state.messages, {
        timeoutMs: 60_000,
        what: 'DV_CMD served again after the restart',
      })) - before
    // The crash really happened half-way: some copies stored, not all.
    expect(stored).toBeGreaterThanOrEqual(atKill - before)
    expect(stored).toBeLessThan(COUNT)
    const ledger = await (await Ledger.open(site.conn, {create: false}))!.load()
    const recorded = [...ledger.last.values()].filter((e) => e.action === 'replayed').length
    // The chunk's journal is still open (not confirmed): a re-run must resume with the same replay ids.
    expect(ledger.inFlight.size).toBeGreaterThan(0)
    expect(recorded).toBeLessThanOrEqual(stored)

    // One re-run finishes the job.
    const rerun = await cli('dlq', 'replay', '--all', '--yes', '--json')
    expect(rerun.exitCode, rerun.stdout + rerun.stderr).toBe(0)
    const result = DlqReplayResult.parse(rerun.json())
    // It picks up exactly what the ledger did not record; what was stored unrecorded is a duplicate.
    expect(result.replayed).toHaveLength(COUNT - recorded)
    expect(result.replayed.filter((r) => r.duplicate)).toHaveLength(stored - recorded)
    expect(result.failed).toEqual([])

    // The stream: every original once, and exactly one byte-identical copy of each.
    const entries = await readStream(site.conn, STREAMS.cmd)
    await expectEachReplayedOnce(entries, originals, () => cli('dlq', 'list', '--status', 'all', '--json'))
  })
})
