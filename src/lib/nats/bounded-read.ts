import type {JsMsg, OrderedConsumerOptions} from '@nats-io/jetstream'

import {formatDuration} from '../duration.js'
import type {SiteConnection} from './connection.js'
import {StalledError} from './errors.js'

/**
 * The next item of a read from `conn`, or a StalledError once `ms` pass without one. The client
 * reconnects forever and recreates ordered consumers on its own, so a read from a killed server never
 * fails by itself: this is its watchdog. The timer runs only while the caller waits on the server, never
 * while it is busy (writing into a slow pipe, say).
 */
export async function nextWithin<T>(
  iterator: AsyncIterator<T>,
  conn: SiteConnection,
  ms: number | undefined,
  what: string,
): Promise<IteratorResult<T>> {
  if (ms === undefined) return iterator.next()
  return withinOrStalled(iterator.next(), conn, ms, what)
}

/** `promise`, or a StalledError when it has not settled within `ms` (a step of a read that may hang). */
export async function withinOrStalled<T>(
  promise: Promise<T>,
  conn: SiteConnection,
  ms: number,
  what: string,
): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          conn.abandon()
          reject(new StalledError(conn.site, conn.url, `no answer for ${formatDuration(ms)} while ${what}`))
        }, ms)
      }),
    ])
  } finally {
    clearTimeout(timer)
  }
}
import {ORDERED_CONSUMER_ATTEMPTS, retryTransient} from './transient.js'

/**
 * Reads a stream through an ordered consumer up to what it held when the read began (the consumer's
 * `num_pending` then), so a bounded read never waits on messages deleted from the tail or chases new
 * writes. The caller may stop early; the consumer is closed either way. A server that stops answering
 * fails the read after the connection's timeout (StalledError, exit 4).
 */
export async function* boundedRead(
  conn: SiteConnection,
  stream: string,
  options: Partial<OrderedConsumerOptions>,
): AsyncGenerator<JsMsg> {
  const js = await conn.js()
  const consumer = await retryTransient(() => js.consumers.get(stream, options), {
    attempts: ORDERED_CONSUMER_ATTEMPTS,
    giveUpIf: () => conn.linkDown(),
  })
  const pending = (await consumer.info(true)).num_pending
  if (pending === 0) {
    await consumer.delete().catch(() => {})
    return
  }
  const what = `reading ${stream}`
  const messages = await withinOrStalled(consumer.consume({max_messages: 1000}), conn, conn.timeoutMs, what)
  const iterator = messages[Symbol.asyncIterator]()
  let seen = 0
  let stalled = false
  try {
    for (;;) {
      const r = await nextWithin(iterator, conn, conn.timeoutMs, what).catch((error: unknown) => {
        stalled = error instanceof StalledError
        throw error
      })
      if (r.done) break
      yield r.value
      if (++seen >= pending) break
    }
  } finally {
    if (stalled) {
      // Nothing to wait for: the pending read ends when the connection closes.
      messages.stop()
    } else {
      // As a `for await` that breaks: the iterator ends, then the consumer is closed.
      await iterator.return?.(undefined)
      await messages.close().catch(() => {})
    }
  }
}
