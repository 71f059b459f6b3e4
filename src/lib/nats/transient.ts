import {isTransient} from './errors.js'

/**
 * Failures a JetStream cluster produces while it elects a new leader (a stream's, a consumer's, or the
 * meta leader) or while the client moves to a surviving server pass within seconds: a request that is
 * safe to repeat (a publish with a Nats-Msg-Id, a KV put of the same value) is retried here; anything else
 * is reported as "unavailable" (exit 4), never as a bug. What counts as transient is decided, by error
 * type, in errors.ts.
 */
export {isTransient}

export interface RetryOptions {
  /** Give up (rethrow the last failure) once this much time has passed; a leader election takes seconds. */
  withinMs?: number
  /** At most this many attempts (for requests that each wait a whole timeout when they fail). */
  attempts?: number
  signal?: AbortSignal
  /** Stop retrying once this holds (the server is gone, not busy electing a leader). */
  giveUpIf?: () => boolean
}

/**
 * Runs `work` again after a transient failure (short back-off) until it succeeds, `withinMs` passes
 * or the attempts are used up.
 */
export async function retryTransient<T>(work: () => Promise<T>, options: RetryOptions = {}): Promise<T> {
  const deadline = Date.now() + (options.withinMs ?? 30_000)
  for (let attempt = 0; ; attempt++) {
    try {
      return await work()
    } catch (error) {
      const spent = Date.now() >= deadline || attempt + 1 >= (options.attempts ?? Infinity)
      if (!isTransient(error) || spent || options.signal?.aborted || options.giveUpIf?.()) throw error
      await new Promise((r) => setTimeout(r, Math.min(250 * 2 ** attempt, 2000)))
    }
  }
}

/**
 * Creating an ordered (R1, ephemeral) consumer on a clustered stream: the meta leader places it on one of
 * the stream's peers, and for a while after a peer is killed it may still pick that one, so the request
 * times out. Another attempt is placed afresh.
 */
export const ORDERED_CONSUMER_ATTEMPTS = 3
