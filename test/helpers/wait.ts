// Waiting on a real condition instead of sleeping: servers, streams and CLIs change state asynchronously, and
// a fixed sleep is either too short on a loaded machine or wasted time on an idle one.

export interface WaitOptions {
  /** Give up (throw) after this long; default 30 s. */
  timeoutMs?: number
  /** Between two checks; default 100 ms. */
  intervalMs?: number
  /** Named in the error when the condition is not met in time. */
  what?: string
}

/**
 * Resolves with the first value of `condition` that is neither `undefined` nor `false`. A check that throws
 * counts as "not yet" (a server being restarted refuses requests for a while); the last such error is
 * quoted when the wait times out.
 */
export async function waitFor<T>(
  condition: () => T | undefined | false | Promise<T | undefined | false>,
  options: WaitOptions = {},
): Promise<T> {
  const {timeoutMs = 30_000, intervalMs = 100, what = 'condition'} = options
  const until = Date.now() + timeoutMs
  let lastError: unknown
  for (;;) {
    try {
      const value = await condition()
      if (value !== undefined && value !== false) return value
    } catch (error) {
      lastError = error
    }
    if (Date.now() > until) {
      const why = lastError ? ` (last check failed: ${(lastError as Error).message ?? String(lastError)})` : ''
      throw new Error(`${what} not met within ${timeoutMs} ms${why}`)
    }
    await new Promise((r) => setTimeout(r, intervalMs))
  }
}
