import type {SiteConnection} from '../nats/connection.js'
import {type ReplayRecord, type ResolvedOutcome, resolveOutcomes} from './outcome.js'

/** A replayed copy whose outcome a canary or `--halt-after` waits for: its replay record and its dead letter. */
export interface CanaryCopy extends ReplayRecord {
  ref: string
}

export interface CanaryFailure {
  ref: string
  error: string
}

/**
 * A copy that failed again, in words: its outcome (outcome.ts decides it: a `failed` task event caused by
 * the copy, or a new dead letter of the copy) is `failed` or `dead_lettered`. Null for any other outcome.
 */
function failedAgain(copy: CanaryCopy, o: ResolvedOutcome | undefined): CanaryFailure | null {
  if (o?.outcome !== 'failed' && o?.outcome !== 'dead_lettered') return null
  const how = o.outcome === 'failed' ? 'its task failed' : 'it was dead-lettered again'
  const why = o.error ? ` (${o.error.code}: ${o.error.message})` : ''
  return {ref: copy.ref, error: `its copy (${copy.to_subject} seq ${copy.seq}): ${how}${why}`}
}

/**
 * `dlq replay --canary`: waits until every copy has an outcome (outcome.ts) or `waitMs` has passed, asking
 * again every `intervalMs`; returns the copies that failed again.
 */
export async function canaryFailures(
  conn: SiteConnection,
  copies: readonly CanaryCopy[],
  options: {waitMs: number; signal?: AbortSignal; intervalMs?: number},
): Promise<CanaryFailure[]> {
  const until = Date.now() + options.waitMs
  for (;;) {
    const outcomes = await resolveOutcomes(conn, copies)
    const undecided = copies.some((c) => (outcomes.get(c.replay_id)?.outcome ?? 'pending') === 'pending')
    if (!undecided || Date.now() >= until || options.signal?.aborted) {
      return copies.flatMap((c) => failedAgain(c, outcomes.get(c.replay_id)) ?? [])
    }
    await new Promise((r) => setTimeout(r, options.intervalMs ?? 500))
  }
}

/**
 * `dlq replay --halt-after K`: while a replay runs, asks every `intervalMs` for the outcomes (outcome.ts) of
 * the copies sent so far whose outcome is still pending, and aborts `halt` once K of them have failed again.
 * A copy with an outcome is not asked about again, so each round reads from the oldest undecided copy on.
 */
export class HaltWatch {
  readonly halt = new AbortController()
  readonly failures: CanaryFailure[] = []
  private readonly pending = new Map<string, CanaryCopy>()
  private timer?: NodeJS.Timeout
  private busy = false

  constructor(
    private readonly conn: SiteConnection,
    private readonly limit: number,
    private readonly intervalMs = 1000,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.poll().catch(() => {}), this.intervalMs)
    this.timer.unref()
  }

  /** A copy acknowledged by the server. */
  sent(copy: CanaryCopy): void {
    this.pending.set(copy.replay_id, copy)
  }

  async stop(): Promise<void> {
    clearInterval(this.timer)
    if (!this.halt.signal.aborted) await this.poll().catch(() => {})
  }

  private async poll(): Promise<void> {
    if (this.busy || this.halt.signal.aborted || this.pending.size === 0) return
    this.busy = true
    try {
      const copies = [...this.pending.values()]
      const outcomes = await resolveOutcomes(this.conn, copies)
      for (const copy of copies) {
        const o = outcomes.get(copy.replay_id)
        if (!o || o.outcome === 'pending') continue
        this.pending.delete(copy.replay_id)
        const failure = failedAgain(copy, o)
        if (failure) this.failures.push(failure)
      }
      if (this.failures.length >= this.limit) this.halt.abort()
    } finally {
      this.busy = false
    }
  }
}
