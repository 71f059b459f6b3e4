/**
 * Runs `fn` over `items` with at most `limit` in flight (a bounded pipeline), keeping the results in order.
 * Used to overlap server round trips (direct gets, publishes) without unbounded memory.
 */
export async function mapPool<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>) {
  const results = new Array<R>(items.length)
  let next = 0
  const lane = async () => {
    while (next < items.length) {
      const i = next++
      results[i] = await fn(items[i], i)
    }
  }
  await Promise.all(Array.from({length: Math.min(limit, items.length)}, lane))
  return results
}
