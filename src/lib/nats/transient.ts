/**
 * Failures a JetStream cluster produces while it elects a new leader (a stream's, a consumer's, or the
 * meta leader) or while the client moves to a surviving server: the request times out, finds no
 * responders, or is answered 503 "temporarily unavailable". They pass within seconds; a request that is
 * safe to repeat (a publish with a Nats-Msg-Id, a KV put of the same value) is retried, anything else is
 * reported as "unavailable" (exit 4), never as a bug.
 */
export function isTransient(error: unknown): boolean {
  const e = error as {name?: string; message?: string; status?: number; code?: unknown; cause?: unknown} | undefined
  if (!e) return false
  switch (e.name) {
    case 'TimeoutError':
    case 'NoResponders':
    case 'ConnectionError':
    case 'DrainingConnectionError':
      return true
    case 'RequestError':
    case 'JetStreamNotEnabled':
      // The client's wrapping of "no responders": nobody answered on the stream's subject right now.
      return isTransient(e.cause)
    case 'JetStreamApiError':
    case 'JetStreamStatusError':
      return e.status === 503 || /temporarily unavailable|no suitable peers|leader/i.test(e.message ?? '')
  }
  return e.code === 'TIMEOUT' || e.code === '503'
}

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
