import type {KV} from '@nats-io/kv'

import {DLQ_RUNTIME_BUCKET} from '../layout/names.js'
import type {SiteConnection} from '../nats/connection.js'
import {isStreamNotFound} from '../nats/errors.js'
import {notFound, refused} from '../errors.js'
import {compareText} from '../order.js'
import type {ReplayJob} from './model.js'

/**
 * Replay jobs (docs/architecture.md, "Replay jobs"): each `dlq replay` run that sends anything keeps its
 * state in KV `dv_dlq_runtime` under `job.<run>`, where `<run>` is the run id of its ledger journals
 * (`_replays.<run>.<chunk>`). The replay writes it (compare-and-set on the revision) when it starts, every
 * heartbeat with its counts, and when it ends; `dlq jobs cancel` sets `cancelling` (compare-and-set too), which
 * the replay sees through a watch on its key and at its next write, and stops after its in-flight messages.
 */
export const JOB_PREFIX = 'job'
export const JOB_HEARTBEAT_MS = 1000
/** A running job whose heartbeat is older than this is `interrupted` (its process is gone). */
export const JOB_STALE_MS = 15_000

/**
 * A finished job (completed, cancelled, failed) is kept this long after its last write, by the server's time of
 * that write, then purged: when a job starts and when jobs are listed. So is an interrupted one (isExpired).
 */
export const JOB_RETENTION_MS = 7 * 24 * 60 * 60 * 1000

/** How long the final write may take at most (a replay that lost its site ends without waiting for it). */
const FINISH_WAIT_MS = 2000

/** A job as `dlq jobs --json` shows it (model.ts); `interrupted` is derived from a stale heartbeat, never stored. */
export type Job = ReplayJob
export type StoredJobState = Exclude<Job['state'], 'interrupted'>

export interface StoredJob {
  id: string
  state: StoredJobState
  done: number
  total: number
  failed: number
  actor: string
  reason: string | null
  started_at: string
  updated_at: string
  heartbeat_at: string
  /** Who asked for the cancel (`cancelling`, `cancelled`). */
  cancelled_by?: string
}

const jobKey = (id: string) => `${JOB_PREFIX}.${id}`
const encode = (job: StoredJob) => new TextEncoder().encode(JSON.stringify(job))

/** A job's state as shown: a running or cancelling job without a fresh heartbeat is `interrupted`. */
export function shownJob(job: StoredJob, now = Date.now()): Job {
  const live = job.state === 'running' || job.state === 'cancelling'
  const stale = live && !(now - Date.parse(job.heartbeat_at) <= JOB_STALE_MS)
  return {
    id: job.id,
    state: stale ? 'interrupted' : job.state,
    done: job.done,
    total: job.total,
    failed: job.failed,
    actor: job.actor,
    reason: job.reason,
    started_at: job.started_at,
    updated_at: job.updated_at,
  }
}

/** A job value read from the network: only a well-formed one counts (anything else is left out). */
export function parseJob(value: Uint8Array): StoredJob | undefined {
  let v: unknown
  try {
    v = JSON.parse(new TextDecoder().decode(value))
  } catch {
    return undefined
  }
  if (!v || typeof v !== 'object') return undefined
  const o = v as Record<string, unknown>
  const states = ['running', 'completed', 'cancelling', 'cancelled', 'failed']
  const num = (x: unknown) => (typeof x === 'number' && Number.isFinite(x) && x >= 0 ? x : undefined)
  const str = (x: unknown) => (typeof x === 'string' && x.length <= 4096 ? x : undefined)
  if (!str(o.id) || !states.includes(o.state as string)) return undefined
  const [done, total, failed] = [num(o.done), num(o.total), num(o.failed)]
  if (done === undefined || total === undefined || failed === undefined) return undefined
  if (!str(o.actor) || !str(o.started_at) || !str(o.updated_at) || !str(o.heartbeat_at)) return undefined
  return {
    id: o.id as string,
    state: o.state as StoredJobState,
    done,
    total,
    failed,
    actor: o.actor as string,
    reason: str(o.reason) ?? null,
    started_at: o.started_at as string,
    updated_at: o.updated_at as string,
    heartbeat_at: o.heartbeat_at as string,
    ...(str(o.cancelled_by) ? {cancelled_by: o.cancelled_by as string} : {}),
  }
}

/**
 * The bucket `dv_dlq_runtime` (made when `create`, else null when there is none), and when it last stored anything
 * by the server's clock (NaN for a bucket just made): a live job writes every second.
 */
async function openRuntime(conn: SiteConnection, create: boolean): Promise<{kv: KV; lastStored: number} | null> {
  const {Kvm} = await import('@nats-io/kv')
  const kvm = new Kvm(await conn.js())
  try {
    const kv = await kvm.open(DLQ_RUNTIME_BUCKET)
    return {kv, lastStored: Date.parse((await kv.status()).streamInfo.state.last_ts)}
  } catch (error) {
    if (!isStreamNotFound(error)) throw error
    return create ? {kv: await kvm.create(DLQ_RUNTIME_BUCKET, {history: 1}), lastStored: Number.NaN} : null
  }
}

/**
 * Every replay job of a site (newest first), or the one with `id`; jobs past their retention are purged, but for
 * `own` (the job of the replay that reads them: it may finish while they are read, and a reader whose clock runs
 * ahead would take it for an old one).
 */
export async function readJobs(conn: SiteConnection, which: {id?: string; own?: string} = {}): Promise<Job[]> {
  const {id, own} = which
  const runtime = await openRuntime(conn, false)
  if (!runtime) return []
  const {kv, lastStored: newest} = runtime
  const names: string[] = []
  if (id) names.push(jobKey(id))
  else for await (const k of await kv.keys(`${JOB_PREFIX}.*`)) names.push(k)
  const now = Date.now()
  const jobs: Job[] = []
  const expired: string[] = []
  const kept = own === undefined ? undefined : jobKey(own)
  for (const k of names) {
    const e = await kv.get(k)
    const job = e && e.operation === 'PUT' ? parseJob(e.value) : undefined
    if (!job) continue
    if (k !== kept && isExpired(job, e!.created, {now, newest})) expired.push(k)
    else jobs.push(shownJob(job, now))
  }
  await purgeJobs(conn, expired)
  return jobs.sort((a, b) => compareText(b.started_at, a.started_at) || compareText(a.id, b.id))
}

/**
 * Whether a job is past its retention, `stored` being the server's time of its last write:
 * - a finished one, when that is more than JOB_RETENTION_MS before this machine's `now`;
 * - a running or cancelling one, only when the bucket stored something (`newest`, the server's time too) more
 *   than JOB_RETENTION_MS after it: its process is long gone, since a live job writes every second. Measured on
 *   the server's clock alone, so that no client clock, however wrong, can make a live job look that old.
 */
export function isExpired(job: StoredJob, stored: Date, times: {now: number; newest: number}): boolean {
  const finished = job.state === 'completed' || job.state === 'cancelled' || job.state === 'failed'
  const since = (finished ? times.now : times.newest) - stored.getTime()
  return since > JOB_RETENTION_MS
}

/**
 * Removes expired jobs from the bucket's stream altogether (a filtered purge: a KV purge would leave a marker per
 * job, which would pile up instead). Best effort: a reader not allowed to purge still lists the jobs.
 */
async function purgeJobs(conn: SiteConnection, keys: string[]): Promise<void> {
  if (keys.length === 0) return
  try {
    const jsm = await conn.jsm()
    for (const k of keys) {
      await jsm.streams.purge(`KV_${DLQ_RUNTIME_BUCKET}`, {filter: `$KV.${DLQ_RUNTIME_BUCKET}.${k}`, keep: 0})
    }
  } catch {
    // Not allowed, or the site is going: the next listing or job tries again.
  }
}

/**
 * Asks a running job to stop (`cancelling`, compare-and-set: a heartbeat written in between is read again).
 * Refused for a job that has ended or whose process is gone.
 */
export async function cancelJob(conn: SiteConnection, id: string, actor: string): Promise<Job> {
  const kv = (await openRuntime(conn, false))?.kv
  for (let attempt = 0; attempt < 10; attempt++) {
    const e = kv ? await kv.get(jobKey(id)) : null
    const job = e && e.operation === 'PUT' ? parseJob(e.value) : undefined
    if (!e || !job) {
      throw notFound(`No replay job ${id} on ${conn.site.name}.`, 'no-such-job', 'dvctl dlq jobs lists the jobs.')
    }
    const shown = shownJob(job)
    if (shown.state === 'cancelling') return shown
    if (shown.state !== 'running') {
      throw refused(
        `Replay job ${id} is ${shown.state}; only a running job can be cancelled.`,
        'job-not-running',
        'Run the same replay again to finish what it did not send.',
      )
    }
    const now = new Date().toISOString()
    const next: StoredJob = {...job, state: 'cancelling', updated_at: now, cancelled_by: actor}
    try {
      await kv!.update(jobKey(id), encode(next), e.revision)
      return shownJob(next)
    } catch (error) {
      if (!isWrongRevision(error)) throw error
    }
  }
  throw refused(`Replay job ${id} changed too often to be cancelled; try again.`, 'job-busy')
}

function isWrongRevision(error: unknown): boolean {
  const code = (error as {api_error?: {err_code?: number}})?.api_error?.err_code
  return code === 10071 || /wrong last sequence/i.test(String((error as Error)?.message))
}

/**
 * The job of one replay run, kept by the replaying process: written at start, every heartbeat and at the
 * end, always compare-and-set, so a cancel written by another process is never overwritten. `cancelled`
 * is aborted when a cancel is seen (by the watch on the key, or by a write that lost to it).
 */
export class JobTracker {
  private readonly controller = new AbortController()
  private revision = 0
  private timer?: NodeJS.Timeout
  private stopWatch?: () => void
  private writing: Promise<void> = Promise.resolve()
  /** The purge of finished jobs past their retention, done while the replay runs. */
  private purging: Promise<void> = Promise.resolve()
  private job: StoredJob

  private constructor(
    private readonly kv: KV,
    job: StoredJob,
  ) {
    this.job = job
  }

  get cancelled(): AbortSignal {
    return this.controller.signal
  }

  get id(): string {
    return this.job.id
  }

  /** The state last written (or being written). */
  get state(): StoredJobState {
    return this.job.state
  }

  static async start(
    conn: SiteConnection,
    init: {id: string; total: number; actor: string; reason: string | null},
  ): Promise<JobTracker> {
    const {kv} = (await openRuntime(conn, true))!
    const now = new Date().toISOString()
    const tracker = new JobTracker(kv, {
      ...init,
      state: 'running',
      done: 0,
      failed: 0,
      started_at: now,
      updated_at: now,
      heartbeat_at: now,
    })
    tracker.revision = await kv.create(jobKey(init.id), encode(tracker.job))
    // Reading the jobs purges those past their retention (a job that cannot be read is no reason to stop),
    // one request per job: done while the replay runs, and waited for when it finishes.
    tracker.purging = readJobs(conn, {own: init.id}).then(
      () => {},
      () => {},
    )
    await tracker.watch()
    tracker.timer = setInterval(() => void tracker.write({}).catch(() => {}), JOB_HEARTBEAT_MS)
    tracker.timer.unref()
    return tracker
  }

  /** New counts (written with the next heartbeat). */
  progress(done: number, failed: number): void {
    this.job.done = done
    this.job.failed = failed
  }

  /** The job's final state: cancelled when a cancel was seen, else completed or failed. */
  async finish(outcome: {done: number; failed: number; ok: boolean; interrupted?: boolean}): Promise<void> {
    clearInterval(this.timer)
    this.stopWatch?.()
    this.progress(outcome.done, outcome.failed)
    const state: StoredJobState =
      this.cancelled.aborted || outcome.interrupted ? 'cancelled' : outcome.ok ? 'completed' : 'failed'
    // A lost site must not hold up the replay's own report: the job is then shown `interrupted` once stale.
    let timer: NodeJS.Timeout | undefined
    await Promise.race([
      Promise.all([this.write({state}).catch(() => {}), this.purging]),
      new Promise<void>((resolve) => (timer = setTimeout(resolve, FINISH_WAIT_MS))),
    ])
    clearTimeout(timer)
  }

  private async watch(): Promise<void> {
    const iter = await this.kv.watch({key: jobKey(this.job.id)})
    this.stopWatch = () => iter.stop()
    void (async () => {
      for await (const e of iter) {
        const job = e.operation === 'PUT' ? parseJob(e.value) : undefined
        if (job?.state === 'cancelling') this.cancel(job)
      }
    })().catch(() => {})
  }

  private cancel(by: StoredJob): void {
    if (this.job.state === 'running') {
      this.job.state = 'cancelling'
      if (by.cancelled_by) this.job.cancelled_by = by.cancelled_by
    }
    this.controller.abort()
  }

  /** One write at a time; on losing the compare-and-set, reads the key again (a cancel) and retries. */
  private write(change: Partial<StoredJob>): Promise<void> {
    const next = this.writing.then(async () => {
      for (let attempt = 0; attempt < 5; attempt++) {
        const now = new Date().toISOString()
        const job: StoredJob = {...this.job, ...change, updated_at: now, heartbeat_at: now}
        try {
          this.revision = await this.kv.update(jobKey(job.id), encode(job), this.revision)
          this.job = job
          return
        } catch (error) {
          if (!isWrongRevision(error)) throw error
          const e = await this.kv.get(jobKey(job.id))
          if (!e) throw error
          this.revision = e.revision
          const theirs = e.operation === 'PUT' ? parseJob(e.value) : undefined
          if (theirs?.state === 'cancelling') this.cancel(theirs)
        }
      }
    })
    this.writing = next.catch(() => {})
    return next
  }
}
