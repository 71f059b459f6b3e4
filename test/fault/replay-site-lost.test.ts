// Fault (issue 13, item 6): the site is killed (SIGKILL) in the middle of `dlq replay --all --yes` and stays
// down. The replay must stop promptly (not hang on each publish's timeout), exit 68 and list what was
// replayed, what failed and what was not attempted. With the site back, running it once more finishes the rest:
// every dead letter ends up with exactly one copy in DV_CMD, and the ledger says replayed for all.
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {DlqListResult, DlqReplayResult} from '../../src/lib/dlq/model.js'
import {STREAMS} from '../../src/lib/layout/names.js'
import {runCli, type CliResult} from '../helpers/cli.js'
import {waitFor} from '../helpers/wait.js'
import {type DlqSite, startDlqSite} from '../integration/dlq-fixture.js'
import {eventually, readStream, seedDeadLetters} from './harness.js'

const COUNT = 300

describe('dlq replay when its site is lost mid-way', {timeout: 240_000}, () => {
  let site: DlqSite
  let originals: Map<number, string> // DV_CMD seq -> envelope text

  beforeAll(async () => {
    site = await startDlqSite('osl1')
    originals = await seedDeadLetters(site.conn, COUNT)
  }, 120_000)

  afterAll(async () => site?.dispose())

  const cli = (...args: string[]) =>
    runCli([...args, '--server', site.server.url, '--timeout', '5s'], {timeoutMs: 120_000})

  it('exits 68 promptly with replayed, failed and not attempted; a re-run finishes each exactly once', async () => {
    const jsm = await site.conn.jsm()
    const before = (await jsm.streams.info(STREAMS.cmd)).state.messages
    expect(before).toBe(COUNT)

    // Paced so that the kill lands part-way through.
    const first: Promise<CliResult> = cli('dlq', 'replay', '--all', '--yes', '--json', '--rate', '60/s')
    await eventually(
      async () => ((await jsm.streams.info(STREAMS.cmd)).state.messages > before + 20 ? true : undefined),
      60_000,
      'some copies stored',
    )
    await site.server.kill()
    const killedAt = Date.now()
    const run = await first
    const stoppedAfter = Date.now() - killedAt

    expect(run.exitCode, run.stdout + run.stderr).toBe(68)
    // Before this fix the run waited out each publish and ended with "Unexpected error: timeout" after 24 s.
    expect(stoppedAfter).toBeLessThan(10_000)
    expect(run.stderr).not.toMatch(/Unexpected error/)
    const result = DlqReplayResult.parse(run.json())
    expect(result.replayed.length).toBeGreaterThan(0)
    expect(result.not_attempted.length).toBeGreaterThan(0)
    // Every planned dead letter is in exactly one of the three lists.
    const accounted = [
      ...result.replayed.map((r) => r.ref),
      ...result.failed.map((f) => f.ref),
      ...result.not_attempted.map((n) => n.ref),
    ]
    expect(accounted.sort()).toEqual(result.plan.map((p) => p.ref).sort())
    expect(new Set(accounted).size).toBe(COUNT)
    for (const f of result.failed) expect(f.error).toMatch(/run the same command again/)

    // The site comes back (its JetStream serves DV_CMD again); running the same command once finishes the rest.
    await site.server.start()
    await waitFor(async () => (await jsm.streams.info(STREAMS.cmd)).state.messages, {
      timeoutMs: 60_000,
      what: 'DV_CMD served again after the restart',
    })
    const last = await cli('dlq', 'replay', '--all', '--yes', '--json')
    expect(last.exitCode, last.stdout + last.stderr).toBe(0)
    const rerun = DlqReplayResult.parse(last.json())
    // What the first run confirmed is not sent again.
    const confirmed = new Set(result.replayed.map((r) => r.ref))
    expect(rerun.replayed.filter((r) => confirmed.has(r.ref) && !r.duplicate)).toEqual([])

    const entries = await readStream(site.conn, STREAMS.cmd)
    const copies = new Map<string, number>()
    for (const e of entries) {
      const of = e.headers['Dv-Replay-Of']
      if (of) copies.set(of, (copies.get(of) ?? 0) + 1)
    }
    expect([...copies.entries()].filter(([, n]) => n > 1)).toEqual([])
    expect([...originals.keys()].filter((seq) => !copies.has(`DV_CMD:${seq}`))).toEqual([])
    expect(entries.length).toBe(2 * COUNT)
    for (const e of entries) {
      const of = e.headers['Dv-Replay-Of']
      if (of) expect(e.text).toBe(originals.get(Number(of.split(':')[1])))
    }

    const listed = await cli('dlq', 'list', '--status', 'all', '--json')
    expect(listed.exitCode, listed.stdout + listed.stderr).toBe(0)
    const list = DlqListResult.parse(listed.json())
    expect(list.dead_letters).toHaveLength(COUNT)
    expect(list.dead_letters.filter((d) => d.status !== 'replayed').map((d) => d.ref)).toEqual([])
  })
})
