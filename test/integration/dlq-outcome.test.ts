import {mkdtemp, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'

import {Kvm} from '@nats-io/kv'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {
  DlqHistoryResult,
  DlqListResult,
  DlqReplayResult,
  DlqShowResult,
  type DeadLetter,
} from '../../src/lib/dlq/model.js'
import {createWorkerConsumer} from '../../src/lib/sandbox/workers/consumer.js'
import {startWorker, type Worker} from '../../src/lib/sandbox/workers/worker.js'
import {runCli} from '../helpers/cli.js'
import {runCommand} from '../helpers/run.js'
import {command, type DlqSite, eventually, publishCommand, startDlqSite} from './dlq-fixture.js'

/**
 * What a replay did (issue 16, part 3): a replay to a worker that still fails has the outcome `failed` (or
 * `dead_lettered`) in `dlq show` and `dlq history`, its dead letter is `replay_failed` in `dlq list`, a
 * second replay is refused (exit 6) unless --force, and a forced replay to the healed worker `succeeded`.
 */
describe('dlq replay outcomes', {timeout: 120_000}, () => {
  let site: DlqSite
  let worker: Worker
  let dir: string
  let healed = false
  let seq: number
  const ref = () => `DV_CMD:${seq}`
  const cli = (args: string[]) =>
    runCommand([...args, '--server', site.server.url], {env: {DVCTL_CONFIG: join(dir, 'alice.yaml')}})
  const show = async () => DlqShowResult.parse((await cli(['dlq', 'show', ref(), '--json'])).json())
  const letterOf = async (status = 'all'): Promise<DeadLetter | undefined> =>
    DlqListResult.parse((await cli(['dlq', 'list', '--status', status, '--json'])).json()).dead_letters.find(
      (l) => l.ref === ref(),
    )

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dvctl-outcome-'))
    await writeFile(join(dir, 'alice.yaml'), 'actor: alice\n')
    site = await startDlqSite()
    const consumer = await createWorkerConsumer(site.conn, {service: 'maskin', maxDeliver: 1, ackWaitMs: 1000})
    worker = await startWorker(site.conn, {
      service: 'maskin',
      consumer,
      progressSteps: 0,
      behaviour: () => (healed ? 'succeed' : {fail: {code: 'quota-exceeded', message: 'no quota left'}}),
    })
    seq = await publishCommand(site.conn, 'dv.maskin.cmd.provision', command('maskin.server.provision.requested'))
    await eventually(async () => ((await letterOf('pending'))?.failure ? true : undefined))
  })
  afterAll(async () => {
    await worker?.stop()
    await site?.dispose()
    if (dir) await rm(dir, {recursive: true, force: true})
  })

  it('follows a replay that fails again, refuses a second one without --force, and sends it with --force', async () => {
    const first = await cli(['dlq', 'replay', ref(), '--yes', '--json'])
    expect(first.exitCode).toBe(0)
    const copySeq = DlqReplayResult.parse(first.json()).replayed[0].new_seq

    // The worker fails the copy as it failed the original: the outcome follows, with the error.
    const failed = await eventually(async () => {
      const r = (await show()).replays
      return r.length === 1 && r[0].outcome !== 'pending' ? r[0] : undefined
    })
    expect(['failed', 'dead_lettered']).toContain(failed.outcome)
    expect(failed).toMatchObject({seq: copySeq, actor: 'alice', error: {code: 'quota-exceeded'}})
    const letter = await letterOf()
    expect(letter).toMatchObject({status: 'replay_failed', last_replay: {seq: copySeq}})
    expect((await letterOf('replay_failed'))?.ref).toBe(ref())
    expect(await letterOf('replayed')).toBeUndefined()
    const list = await cli(['dlq', 'list', '--status', 'all'])
    expect(list.stdout).toContain('replay_failed')
    const text = await cli(['dlq', 'show', ref()])
    expect(text.stdout).toMatch(/Replays\n.*seq \d+ +(failed|dead_lettered) quota-exceeded/)
    const history = DlqHistoryResult.parse((await cli(['dlq', 'history', ref(), '--json'])).json()).history
    expect(history.find((h) => h.action === 'replayed')).toMatchObject({outcome: failed.outcome})

    // The same error again: refused (exit 6), saying so and naming --force, in JSON and in text.
    const refused = await cli(['dlq', 'replay', ref(), '--yes', '--json'])
    expect(refused.exitCode).toBe(6)
    const result = DlqReplayResult.parse(refused.json())
    expect(result.replayed).toEqual([])
    expect(result.skipped[0].reason).toMatch(/same error quota-exceeded.*--force/)
    const refusedText = await cli(['dlq', 'replay', ref(), '--yes'])
    expect(refusedText.exitCode).toBe(6)
    expect(refusedText.stdout + refusedText.stderr).toMatch(/same error quota-exceeded.*--force/)

    // --force sends it; the fixed worker takes it, and its outcome is `succeeded`.
    healed = true
    const forced = await cli(['dlq', 'replay', ref(), '--yes', '--force', '--json'])
    expect(forced.exitCode).toBe(0)
    expect(DlqReplayResult.parse(forced.json()).replayed).toHaveLength(1)
    const replays = await eventually(async () => {
      const r = (await show()).replays
      return r.length === 2 && r[1].outcome !== 'pending' ? r : undefined
    })
    expect(replays.map((r) => r.outcome)).toEqual([failed.outcome, 'succeeded'])
    expect(await letterOf()).toMatchObject({status: 'replayed', last_replay: {outcome: 'succeeded'}})
  })
})

/**
 * A replay's outcome follows the server's clock, not the replaying client's: a replay run by a client whose
 * clock is an hour ahead still gets the failure of its copy (the task event is stored by the server before the
 * client's idea of when the replay started), and the recorded start is the server's.
 */
describe('dlq replay outcomes with a skewed client clock', {timeout: 120_000}, () => {
  let site: DlqSite
  let worker: Worker
  let seq: number
  const skewed = fileURLToPath(new URL('../helpers/skewed-clock.mjs', import.meta.url))

  beforeAll(async () => {
    site = await startDlqSite()
    const consumer = await createWorkerConsumer(site.conn, {service: 'maskin', maxDeliver: 1, ackWaitMs: 1000})
    worker = await startWorker(site.conn, {
      service: 'maskin',
      consumer,
      progressSteps: 0,
      behaviour: {fail: {code: 'quota-exceeded', message: 'no quota left'}},
    })
    seq = await publishCommand(site.conn, 'dv.maskin.cmd.provision', command('maskin.server.provision.requested'))
    const cli = (args: string[]) => runCommand([...args, '--server', site.server.url])
    await eventually(async () => {
      const list = DlqListResult.parse((await cli(['dlq', 'list', '--json'])).json())
      return list.dead_letters.find((l) => l.seq === seq && l.failure) ? true : undefined
    })
  })
  afterAll(async () => {
    await worker?.stop()
    await site?.dispose()
  })

  it('joins the copy to its failed task from the server time of the replay, not the client clock', async () => {
    const replay = await runCli(['dlq', 'replay', `DV_CMD:${seq}`, '--yes', '--json', '--server', site.server.url], {
      env: {NODE_OPTIONS: `--import ${skewed}`, DV_TEST_CLOCK_SKEW_MS: String(3_600_000)},
    })
    expect(replay.exitCode, replay.stderr).toBe(0)
    const copySeq = DlqReplayResult.parse(replay.json()).replayed[0].new_seq

    const show = async () =>
      DlqShowResult.parse(
        (await runCommand(['dlq', 'show', `DV_CMD:${seq}`, '--json', '--server', site.server.url])).json(),
      )
    const replayed = await eventually(async () => {
      const r = (await show()).replays
      return r.length === 1 && r[0].outcome !== 'pending' ? r[0] : undefined
    })
    expect(replayed).toMatchObject({seq: copySeq, error: {code: 'quota-exceeded'}})
    expect(['failed', 'dead_lettered']).toContain(replayed.outcome)

    // The recorded start is when the server stored the chunk's `replaying` journal record.
    const history = DlqHistoryResult.parse(
      (await runCommand(['dlq', 'history', `DV_CMD:${seq}`, '--json', '--server', site.server.url])).json(),
    ).history
    const entry = history.find((h) => h.action === 'replayed')!
    const kv = await new Kvm(await site.conn.js()).open('dv_dlq_ledger')
    const journals: Array<{created: Date; value: {action: string}}> = []
    for await (const e of await kv.history({key: '_replays.>'})) journals.push({created: e.created, value: e.json()})
    const started = journals.find((j) => j.value.action === 'replaying')!
    expect(entry.started_at).toBe(started.created.toISOString())
  })
})
