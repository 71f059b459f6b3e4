// Replay as a job (issue 16, part 4): a paced replay is a job in KV dv_dlq_runtime that another process sees
// (`dlq jobs --json`) and cancels (`dlq jobs cancel`); the replay stops after its in-flight messages and exits
// 3 with what it sent; the same command again sends the rest, and every dead letter has exactly one copy.
// Also: two processes replaying the same dead letter at once leave one copy, not two.
import {randomUUID} from 'node:crypto'
import {fileURLToPath} from 'node:url'

import {Kvm} from '@nats-io/kv'

import {afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi} from 'vitest'

import {newEnvelope} from '../../src/lib/contract/envelope.js'

import {readJobs} from '../../src/lib/dlq/jobs.js'
import {DlqJobsResult, DlqReplayResult} from '../../src/lib/dlq/model.js'
import {STREAMS} from '../../src/lib/layout/names.js'
import {expectEachReplayedOnce, readStream, seedDeadLetters} from '../fault/harness.js'
import {runCli} from '../helpers/cli.js'
import {startCli} from '../helpers/live-cli.js'
import {waitFor} from '../helpers/wait.js'
import {type DlqSite, startDlqSite, work} from './dlq-fixture.js'

const COUNT = 100

describe('dlq replay as a job', {timeout: 120_000}, () => {
  let site: DlqSite
  let originals: Map<number, string>
  const cli = (...args: string[]) => runCli([...args, '--server', site.server.url])

  beforeAll(async () => {
    site = await startDlqSite('osl1')
    // One dead letter for the two racing processes, a hundred for the job.
    originals = await seedDeadLetters(site.conn, COUNT + 1)
  }, 60_000)

  afterAll(async () => site?.dispose())

  it('two processes replaying the same dead letter at once leave one copy', async () => {
    const seq = Math.min(...originals.keys())
    const ref = `DV_CMD:${seq}`
    const [a, b] = await Promise.all([
      cli('dlq', 'replay', ref, '--yes', '--json'),
      cli('dlq', 'replay', ref, '--yes', '--json'),
    ])
    // Each process either sent it (the second one's copy dropped as a duplicate) or found it replayed (6).
    for (const r of [a, b]) expect([0, 6], r.stdout + r.stderr).toContain(r.exitCode)
    const copies = (await readStream(site.conn, STREAMS.cmd)).filter((e) => e.headers['Dv-Replay-Of'] === ref)
    expect(copies).toHaveLength(1)
    expect(copies[0].text).toBe(originals.get(seq))
  })

  it('is running in dlq jobs from another process, cancelled by dlq jobs cancel, resumed by running it again', async () => {
    const replay = cli('dlq', 'replay', '--all', '--rate', '20/s', '--yes', '--json', '--reason', 'job test')
    const running = await waitFor(
      async () => {
        const r = await cli('dlq', 'jobs', '--json')
        expect(r.exitCode, r.stderr).toBe(0)
        const jobs = DlqJobsResult.parse(r.json()).jobs
        return jobs.find((j) => j.state === 'running' && j.total === COUNT && j.done > 0)
      },
      {timeoutMs: 30_000, what: 'a running job of 100 in dlq jobs'},
    )
    expect(running.reason).toBe('job test')
    expect(running.failed).toBe(0)

    const cancel = await cli('dlq', 'jobs', 'cancel', running.id, '--json')
    expect(cancel.exitCode, cancel.stderr).toBe(0)
    expect(DlqJobsResult.parse(cancel.json()).jobs[0].state).toBe('cancelling')

    const first = await replay
    expect(first.exitCode, first.stderr).toBe(3)
    const sent = DlqReplayResult.parse(first.json())
    expect(sent.job).toEqual({id: running.id, state: 'cancelled'})
    expect(sent.replayed.length).toBeGreaterThan(0)
    expect(sent.replayed.length).toBeLessThan(COUNT)
    expect(sent.replayed.length + sent.not_attempted.length).toBe(COUNT)

    const shown = await cli('dlq', 'jobs', running.id, '--json')
    expect(shown.exitCode, shown.stderr).toBe(0)
    const [job] = DlqJobsResult.parse(shown.json()).jobs
    expect(job).toMatchObject({id: running.id, state: 'cancelled', done: sent.replayed.length, total: COUNT, failed: 0})
    // Piped, the table is tab-separated lines; --watch prints each job as it changes (here: once).
    const text = await cli('dlq', 'jobs', running.id)
    expect(text.stdout.split('\t').slice(0, 3)).toEqual([running.id, 'cancelled', String(sent.replayed.length)])
    // Stopped once it printed (a fixed time would be too short on a loaded machine); Ctrl-C ends it (130).
    const watched = startCli(['dlq', 'jobs', running.id, '--watch', '--json', '--server', site.server.url])
    await watched.waitFor(() => watched.stdout().length > 0, 60_000, 'the watched job')
    expect(await watched.stop()).toBe(130)
    expect(JSON.parse(watched.stdout()[0]).jobs[0]).toMatchObject({id: running.id, state: 'cancelled'})
    // A job that has ended cannot be cancelled again.
    expect((await cli('dlq', 'jobs', 'cancel', running.id)).exitCode).toBe(6)
    expect((await cli('dlq', 'jobs', 'nosuchjob', '--json')).exitCode).toBe(5)

    // The same selection again: only the rest, and a completed job of its own.
    const second = await cli('dlq', 'replay', '--all', '--yes', '--json')
    expect(second.exitCode, second.stderr).toBe(0)
    const rest = DlqReplayResult.parse(second.json())
    expect(rest.replayed).toHaveLength(COUNT - sent.replayed.length)
    const sentFirst = new Set(sent.replayed.map((r) => r.ref))
    expect(rest.replayed.filter((r) => sentFirst.has(r.ref))).toEqual([])
    const after = DlqJobsResult.parse((await cli('dlq', 'jobs', rest.job!.id, '--json')).json()).jobs[0]
    expect(after).toMatchObject({state: 'completed', done: rest.replayed.length, total: rest.replayed.length})

    const entries = await readStream(site.conn, STREAMS.cmd)
    await expectEachReplayedOnce(entries, originals, () => cli('dlq', 'list', '--status', 'all', '--json'))
  })
})

describe('dlq replay --canary', {timeout: 120_000}, () => {
  let site: DlqSite
  let originals: Map<number, string>
  const cli = (...args: string[]) => runCli([...args, '--server', site.server.url])

  beforeAll(async () => {
    site = await startDlqSite('osl1')
    originals = await seedDeadLetters(site.conn, 5)
  }, 60_000)

  afterAll(async () => site?.dispose())

  it('against a worker that still fails: exits 8 after sending exactly 2, naming both', async () => {
    // The worker still fails: it terminates every command it gets (a new advisory in DV_DLQ per copy).
    const worker = failingWorker(site, 'terminate')
    const run = await cli('dlq', 'replay', '--all', '--canary', '2', '--canary-wait', '30s', '--yes', '--json')
    await worker.stop()
    expect(run.exitCode, run.stderr).toBe(8)
    const result = DlqReplayResult.parse(run.json())
    expect(result.replayed).toHaveLength(2)
    expect(result.not_attempted).toHaveLength(originals.size - 2)
    expect(result.canary?.sent).toBe(2)
    expect(result.canary?.failed.map((f) => f.ref).sort()).toEqual(result.replayed.map((r) => r.ref).sort())
    const copies = (await readStream(site.conn, STREAMS.cmd)).filter((e) => e.headers['Dv-Replay-Of'])
    expect(copies).toHaveLength(2)
  })
})

describe('dlq replay --halt-after', {timeout: 120_000}, () => {
  let site: DlqSite
  const COUNT_HALT = 30
  const cli = (...args: string[]) => runCli([...args, '--server', site.server.url])

  beforeAll(async () => {
    site = await startDlqSite('osl1')
    await seedDeadLetters(site.conn, COUNT_HALT)
  }, 60_000)

  afterAll(async () => site?.dispose())

  it('stops a long replay once 3 of its copies have failed again (exit 8)', async () => {
    const worker = failingWorker(site, 'terminate')
    const run = await cli('dlq', 'replay', '--all', '--rate', '10/s', '--halt-after', '3', '--yes', '--json')
    await worker.stop()
    expect(run.exitCode, run.stderr).toBe(8)
    const result = DlqReplayResult.parse(run.json())
    expect(result.halt?.halted).toBe(true)
    expect(result.halt!.failed.length).toBeGreaterThanOrEqual(3)
    const sent = new Set(result.replayed.map((r) => r.ref))
    expect(result.halt!.failed.filter((f) => !sent.has(f.ref))).toEqual([])
    expect(result.replayed.length).toBeLessThan(COUNT_HALT)
    expect(result.replayed.length + result.not_attempted.length).toBe(COUNT_HALT)
    const copies = (await readStream(site.conn, STREAMS.cmd)).filter((e) => e.headers['Dv-Replay-Of'])
    expect(copies).toHaveLength(result.replayed.length)
  })
})

/**
 * A maskin worker that still fails every command it gets, until stopped. `terminate`: it terminates the command
 * (a new dead-letter advisory in DV_DLQ per copy). `task-failed`: it dead-letters nothing, but reports the task
 * `failed` (a dv.task.evt.failed event caused by the command's id, as the contract asks) and acknowledges the
 * command. Either way the copy's outcome (dlq/outcome.ts) is one that --canary and --halt-after count as failed again.
 */
function failingWorker(site: DlqSite, how: 'terminate' | 'task-failed'): {stop: () => Promise<void>} {
  const stop = new AbortController()
  const loop = (async () => {
    const js = await site.conn.js()
    const consumer = await js.consumers.get(STREAMS.cmd, 'maskin')
    await work(
      consumer,
      async (m) => {
        if (how === 'terminate') {
          m.term()
          return
        }
        const cmd = JSON.parse(new TextDecoder().decode(m.data)) as {id: string; correlation_id: string}
        const taskId = `tsk-${randomUUID().slice(0, 8)}`
        const event = newEnvelope({
          type: 'task.failed',
          source: 'maskin',
          subject: taskId,
          tenant_id: 'acme',
          actor: 'user:test',
          correlation_id: cmd.correlation_id,
          causation_id: cmd.id,
          data: {
            task_id: taskId,
            state: 'failed',
            error: {code: 'quota-exceeded', message: 'no quota', retryable: false},
          },
        })
        await js.publish('dv.task.evt.failed', JSON.stringify(event))
        m.ack()
      },
      () => stop.signal.aborted,
      {batch: 10, expires: 1000},
    )
  })()
  return {
    async stop() {
      stop.abort()
      await loop
    },
  }
}

describe(
  'dlq replay --canary and --halt-after against a task that fails (no new dead letter)',
  {timeout: 120_000},
  () => {
    let site: DlqSite
    const cli = (...args: string[]) => runCli([...args, '--server', site.server.url])

    beforeEach(async () => {
      site = await startDlqSite('osl1')
    })
    afterEach(async () => site?.dispose())

    it('--canary 2 exits 8 after sending exactly 2, naming the failed tasks', async () => {
      const originals = await seedDeadLetters(site.conn, 5)
      const worker = failingWorker(site, 'task-failed')
      const run = await cli('dlq', 'replay', '--all', '--canary', '2', '--canary-wait', '20s', '--yes', '--json')
      await worker.stop()
      expect(run.exitCode, run.stderr).toBe(8)
      const result = DlqReplayResult.parse(run.json())
      expect(result.replayed).toHaveLength(2)
      expect(result.not_attempted).toHaveLength(originals.size - 2)
      expect(result.canary?.sent).toBe(2)
      expect(result.canary?.failed.map((f) => f.ref).sort()).toEqual(result.replayed.map((r) => r.ref).sort())
      for (const f of result.canary!.failed) expect(f.error).toMatch(/task failed \(quota-exceeded: no quota\)/)
      const copies = (await readStream(site.conn, STREAMS.cmd)).filter((e) => e.headers['Dv-Replay-Of'])
      expect(copies).toHaveLength(2)
      // No copy was dead-lettered: the failed task events alone stopped it.
      expect((await readStream(site.conn, STREAMS.dlq)).length).toBe(originals.size)
    })

    it('--halt-after 3 stops a long replay once 3 tasks of its copies failed (exit 8)', async () => {
      const count = 30
      await seedDeadLetters(site.conn, count)
      const worker = failingWorker(site, 'task-failed')
      const run = await cli('dlq', 'replay', '--all', '--rate', '10/s', '--halt-after', '3', '--yes', '--json')
      await worker.stop()
      expect(run.exitCode, run.stderr).toBe(8)
      const result = DlqReplayResult.parse(run.json())
      expect(result.halt?.halted).toBe(true)
      expect(result.halt!.failed.length).toBeGreaterThanOrEqual(3)
      const sent = new Set(result.replayed.map((r) => r.ref))
      expect(result.halt!.failed.filter((f) => !sent.has(f.ref))).toEqual([])
      expect(result.replayed.length).toBeLessThan(count)
      expect(result.replayed.length + result.not_attempted.length).toBe(count)
      expect((await readStream(site.conn, STREAMS.dlq)).length).toBe(count)
    })
  },
)

describe('finished replay jobs expire', {timeout: 120_000}, () => {
  let site: DlqSite
  let seqs: number[]
  const skewed = fileURLToPath(new URL('../helpers/skewed-clock.mjs', import.meta.url))
  /** A CLI run whose clock is past the jobs' retention: what it reads was stored 8 days before its "now". */
  const later = {NODE_OPTIONS: `--import ${skewed}`, DV_TEST_CLOCK_SKEW_MS: String(8 * 24 * 3600 * 1000)}
  const cli = (args: string[], env: NodeJS.ProcessEnv = {}) => runCli([...args, '--server', site.server.url], {env})
  const jobIds = async (env: NodeJS.ProcessEnv = {}) => {
    const r = await cli(['dlq', 'jobs', '--json'], env)
    expect(r.exitCode, r.stderr).toBe(0)
    return DlqJobsResult.parse(r.json()).jobs.map((j) => j.id)
  }

  beforeAll(async () => {
    site = await startDlqSite('osl1')
    seqs = [...(await seedDeadLetters(site.conn, 3)).keys()].sort((a, b) => a - b)
  }, 60_000)
  afterAll(async () => site?.dispose())

  it('are purged after the retention, when jobs are listed and when a job starts; a live one never is', async () => {
    const kv = await new Kvm(await site.conn.js()).open('dv_dlq_runtime')
    // A job whose process still runs (its record says running, just written): never purged, not even by a lister
    // whose clock is 8 days ahead (it shows the job interrupted), since the server stored nothing much later.
    const now = new Date().toISOString()
    const running = {
      id: 'stillrunning',
      state: 'running',
      done: 1,
      total: 10,
      failed: 0,
      actor: 'bob',
      reason: null,
      started_at: now,
      updated_at: now,
      heartbeat_at: now,
    }
    await kv.put('job.stillrunning', JSON.stringify(running))
    const replay = async (seq: number, env: NodeJS.ProcessEnv = {}) => {
      const r = await cli(['dlq', 'replay', `DV_CMD:${seq}`, '--yes', '--json'], env)
      expect(r.exitCode, r.stderr).toBe(0)
      return DlqReplayResult.parse(r.json()).job!.id
    }

    // Listing: a completed job past the retention is gone, from the listing and from the bucket.
    const first = await replay(seqs[0])
    expect((await jobIds()).sort()).toEqual([first, 'stillrunning'].sort())
    expect(await jobIds(later)).toEqual(['stillrunning'])
    expect(await kv.get(`job.${first}`)).toBeNull()
    expect(await jobIds()).toEqual(['stillrunning'])

    // A job starting: the finished ones past the retention go.
    const second = await replay(seqs[1])
    expect(await kv.get(`job.${second}`)).not.toBeNull()
    const third = await replay(seqs[2], later)
    expect(await kv.get(`job.${second}`)).toBeNull()
    expect((await jobIds()).sort()).toEqual([third, 'stillrunning'].sort())
    expect((await kv.get('job.stillrunning'))?.json()).toMatchObject({state: 'running'})
  })

  it("a replay's own job is never purged by its own reading, even by a clock past the retention", async () => {
    // A replay reads the jobs while it runs (JobTracker.start); a short one may have finished by then, and its
    // record, just written, looks 8 days old to a clock that runs 8 days ahead (seen in CI on 2.9.10).
    const kv = await new Kvm(await site.conn.js()).open('dv_dlq_runtime')
    const now = new Date().toISOString()
    const finished = {id: 'ownjob', state: 'completed', done: 1, total: 1, failed: 0, actor: 'bob', reason: null}
    await kv.put('job.ownjob', JSON.stringify({...finished, started_at: now, updated_at: now, heartbeat_at: now}))
    vi.useFakeTimers({toFake: ['Date']})
    vi.setSystemTime(Date.now() + 8 * 24 * 3600 * 1000)
    try {
      expect((await readJobs(site.conn, {own: 'ownjob'})).map((j) => j.id)).toContain('ownjob')
      expect(await kv.get('job.ownjob')).not.toBeNull()
      // Read by anyone else at that time, it is past its retention.
      expect((await readJobs(site.conn)).map((j) => j.id)).not.toContain('ownjob')
    } finally {
      vi.useRealTimers()
    }
    expect(await kv.get('job.ownjob')).toBeNull()
  })
})
