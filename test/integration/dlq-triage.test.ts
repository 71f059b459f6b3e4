import {mkdtemp, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {connectSite} from '../../src/lib/nats/connection.js'
import {
  DlqListResult,
  DlqReplayResult,
  DlqShowResult,
  DlqTriageResult,
  type DeadLetter,
} from '../../src/lib/dlq/model.js'
import {runTriage} from '../../src/lib/dlq/triage.js'
import {readDeadLetters} from '../../src/lib/dlq/read.js'
import {STREAMS} from '../../src/lib/layout/names.js'
import {createWorkerConsumer} from '../../src/lib/sandbox/workers/consumer.js'
import {startWorker, type Worker} from '../../src/lib/sandbox/workers/worker.js'
import {runCli} from '../helpers/cli.js'
import {runCommand} from '../helpers/run.js'
import {command, type DlqSite, eventually, publishCommand, startDlqSite} from './dlq-fixture.js'

/**
 * Failure groups you can act on and triage (issue 16, parts 2 and 6): two failure groups with different
 * error codes, replay by --error and by --group, a hold that replay --all respects, and triage writes by
 * two operators at once that both survive (compare-and-set on the KV revision).
 */
describe('dlq failure groups and triage', {timeout: 120_000}, () => {
  let site: DlqSite
  let worker: Worker
  let dir: string
  let healed = false
  const quota: number[] = []
  const disk: number[] = []
  const env = (actor: string) => ({DVCTL_CONFIG: join(dir, `${actor}.yaml`)})
  const cli = (args: string[], actor = 'alice') => runCommand([...args, '--server', site.server.url], {env: env(actor)})
  const list = async (...args: string[]) => DlqListResult.parse((await cli(['dlq', 'list', '--json', ...args])).json())

  /** How many replayed copies of DV_CMD:<seq> DV_CMD holds (by their Dv-Replay-Of header). */
  async function copiesOf(seq: number): Promise<number> {
    const jsm = await site.conn.jsm()
    const last = (await jsm.streams.info(STREAMS.cmd)).state.last_seq
    let n = 0
    for (let s = 1; s <= last; s++) {
      const m = await jsm.streams.getMessage(STREAMS.cmd, {seq: s}).catch(() => null)
      if (m?.header?.get('Dv-Replay-Of') === `DV_CMD:${seq}`) n++
    }
    return n
  }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dvctl-triage-'))
    for (const actor of ['alice', 'bob']) await writeFile(join(dir, `${actor}.yaml`), `actor: ${actor}\n`)
    site = await startDlqSite()
    const consumer = await createWorkerConsumer(site.conn, {service: 'maskin', maxDeliver: 1, ackWaitMs: 1000})
    worker = await startWorker(site.conn, {
      service: 'maskin',
      consumer,
      progressSteps: 0,
      behaviour: (c) => {
        if (healed) return 'succeed'
        if (c.envelope.type === 'maskin.server.provision.requested')
          return {fail: {code: 'quota-exceeded', message: 'no quota left'}}
        return {fail: {code: 'disk-full', message: 'the disk is full'}}
      },
    })
    for (let i = 0; i < 2; i++) {
      quota.push(
        await publishCommand(site.conn, 'dv.maskin.cmd.provision', command('maskin.server.provision.requested')),
      )
      disk.push(await publishCommand(site.conn, 'dv.maskin.cmd.reboot', command('maskin.server.reboot.requested')))
    }
    // Both groups known: the failure is joined (2.9: from the failed event; 2.10.4+: the term reason).
    await eventually(async () => {
      const letters = (await list()).dead_letters
      return letters.length === 4 && letters.every((l) => l.failure) ? true : undefined
    })
    healed = true
  })
  afterAll(async () => {
    await worker?.stop()
    await site?.dispose()
    if (dir) await rm(dir, {recursive: true, force: true})
  })

  const refsOf = (seqs: number[]) => seqs.map((s) => `DV_CMD:${s}`).sort()

  it('gives each failure group a stable key, in --json and in the table', async () => {
    const result = await list('--group-by', 'error')
    expect(result.groups).toEqual([
      {key: 'error:disk-full', by: 'error', value: 'disk-full', count: 2},
      {key: 'error:quota-exceeded', by: 'error', value: 'quota-exceeded', count: 2},
    ])
    const text = await cli(['dlq', 'list', '--group-by', 'error'])
    expect(text.stdout.trim().split('\n')).toEqual([
      'error:disk-full\t2\tdisk-full',
      'error:quota-exceeded\t2\tquota-exceeded',
    ])
    // --group selects the same dead letters in a listing.
    expect((await list('--group', 'error:disk-full')).dead_letters.map((l) => l.ref).sort()).toEqual(refsOf(disk))
  })

  it('replays only the letters of one error code with --error CODE', async () => {
    const run = await cli(['dlq', 'replay', '--error', 'quota-exceeded', '--yes', '--json'])
    expect(run.exitCode).toBe(0)
    const result = DlqReplayResult.parse(run.json())
    expect(result.replayed.map((r) => r.ref).sort()).toEqual(refsOf(quota))
    expect(result.selection).toEqual({letters: 2, groups: [{key: 'error:quota-exceeded', count: 2}], held: []})
    for (const s of quota) expect(await copiesOf(s)).toBe(1)
    for (const s of disk) expect(await copiesOf(s)).toBe(0)
  })

  it('plans the same letters with --group KEY; a held letter is skipped, with who holds it and why', async () => {
    const plan = DlqReplayResult.parse(
      (await cli(['dlq', 'replay', '--group', 'error:disk-full', '--dry-run', '--json'])).json(),
    )
    expect(plan.plan.map((p) => p.ref).sort()).toEqual(refsOf(disk))
    // Filters on the envelope work on a bulk replay too (it reads envelopes only when a filter needs them).
    const byType = await cli(['dlq', 'replay', '--group', 'type:maskin.server.reboot.requested', '--dry-run', '--json'])
    expect(
      DlqReplayResult.parse(byType.json())
        .plan.map((p) => p.ref)
        .sort(),
    ).toEqual(refsOf(disk))
    const one = (await list()).dead_letters.find((l) => l.ref === `DV_CMD:${disk[1]}`)!
    const byCorrelation = await cli([
      'dlq',
      'replay',
      '--correlation',
      one.correlation_id!.slice(0, 8),
      '--dry-run',
      '--json',
    ])
    expect(DlqReplayResult.parse(byCorrelation.json()).plan.map((p) => p.ref)).toEqual([one.ref])

    const hold = await cli(['dlq', 'hold', `DV_CMD:${disk[0]}`, '--note', 'waiting for the disk fix', '--json'])
    expect(hold.exitCode).toBe(0)
    expect(DlqTriageResult.parse(hold.json()).changed[0]).toMatchObject({
      ref: `DV_CMD:${disk[0]}`,
      held: {owner: 'alice', note: 'waiting for the disk fix'},
    })

    const dry = await cli(['dlq', 'replay', '--all', '--dry-run'])
    expect(dry.stderr).toContain(`skip DV_CMD:${disk[0]}: held by alice since`)
    expect(dry.stderr).toContain('waiting for the disk fix')

    const run = await cli(['dlq', 'replay', '--all', '--yes', '--json'])
    expect(run.exitCode).toBe(0)
    const result = DlqReplayResult.parse(run.json())
    expect(result.replayed.map((r) => r.ref)).toEqual([`DV_CMD:${disk[1]}`])
    expect(result.selection?.held).toEqual([
      expect.objectContaining({ref: `DV_CMD:${disk[0]}`, owner: 'alice', note: 'waiting for the disk fix'}),
    ])
    expect(await copiesOf(disk[0])).toBe(0)
    expect(await copiesOf(disk[1])).toBe(1)

    // Named, it is refused too (exit 6); discard --all leaves it alone.
    expect((await cli(['dlq', 'replay', `DV_CMD:${disk[0]}`, '--yes', '--json'])).exitCode).toBe(6)
    const discard = await cli(['dlq', 'discard', '--all', '--reason', 'cleanup', '--dry-run', '--json'])
    expect(discard.json().discarded).toEqual([])
    expect(discard.json().selection.held).toHaveLength(1)
  })

  it('refuses a hold on a letter another operator holds; a release lets replay act on it', async () => {
    const ref = `DV_CMD:${disk[0]}`
    const bob = await cli(['dlq', 'hold', ref, '--note', 'mine now', '--json'], 'bob')
    expect(bob.exitCode).toBe(6)
    expect(DlqTriageResult.parse(bob.json()).skipped[0].reason).toContain('already held by alice')
    const release = await cli(['dlq', 'release', ref, '--note', 'disk fixed', '--json'], 'bob')
    expect(release.exitCode).toBe(0)
    const plan = DlqReplayResult.parse((await cli(['dlq', 'replay', '--all', '--dry-run', '--json'])).json())
    expect(plan.plan.map((p) => p.ref)).toEqual([ref])
    const show = DlqShowResult.parse((await cli(['dlq', 'show', ref, '--json'])).json())
    expect(show.triage?.held).toBeNull()
    expect(show.triage?.notes.map((n) => [n.kind, n.actor, n.text])).toEqual([
      ['hold', 'alice', 'waiting for the disk fix'],
      ['release', 'bob', 'disk fixed'],
    ])
  })

  it('keeps a hold and a note written by two processes at once (compare-and-set)', async () => {
    const ref = `DV_CMD:${quota[0]}`
    const [held, noted] = await Promise.all([
      runCli(['dlq', 'hold', ref, '--note', 'hold from alice', '--server', site.server.url, '--json'], {
        env: env('alice'),
      }),
      runCli(['dlq', 'note', ref, '--note', 'note from bob', '--server', site.server.url, '--json'], {env: env('bob')}),
    ])
    expect([held.exitCode, noted.exitCode]).toEqual([0, 0])
    const show = DlqShowResult.parse((await cli(['dlq', 'show', ref, '--json'])).json())
    expect(show.triage?.held).toMatchObject({owner: 'alice', note: 'hold from alice'})
    expect(show.triage?.notes.map((n) => n.text).sort()).toEqual(['hold from alice', 'note from bob'])
    const text = await cli(['dlq', 'show', ref])
    expect(text.stdout).toContain('note from bob')
  })

  it('keeps every one of many notes written at once from two connections', async () => {
    const other = await connectSite({name: 'osl1', servers: [site.server.url]}, {timeoutMs: 5000})
    try {
      const ref = `DV_CMD:${quota[1]}`
      const [letter] = await readDeadLetters(site.conn, {refs: new Set([ref]), status: 'all', qualified: false})
      const writes = Array.from({length: 8}, (_, i) =>
        runTriage(i % 2 ? other : site.conn, [letter as DeadLetter], {action: 'note', actor: `op${i}`, note: `n${i}`}),
      )
      const results = await Promise.all(writes)
      for (const r of results) expect(r.changed).toHaveLength(1)
      const show = DlqShowResult.parse((await cli(['dlq', 'show', ref, '--json'])).json())
      expect(show.triage?.notes.map((n) => n.text).sort()).toEqual(Array.from({length: 8}, (_, i) => `n${i}`))
    } finally {
      await other.close()
    }
  })
})
