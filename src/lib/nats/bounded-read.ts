import type {JsMsg, OrderedConsumerOptions} from '@nats-io/jetstream'

import type {SiteConnection} from './connection.js'

/**
 * Reads a stream through an ordered consumer up to what it held when the read began (the consumer's
 * `num_pending` then), so a bounded read never waits on messages deleted from the tail or chases new
 * writes. The caller may stop early; the consumer is closed either way.
 */
export async function* boundedRead(
  conn: SiteConnection,
  stream: string,
  options: Partial<OrderedConsumerOptions>,
): AsyncGenerator<JsMsg> {
  const js = await conn.js()
  const consumer = await js.consumers.get(stream, options)
  const pending = (await consumer.info(true)).num_pending
  if (pending === 0) {
    await consumer.delete().catch(() => {})
    return
  }
  const messages = await consumer.consume({max_messages: 1000})
  let seen = 0
  try {
    for await (const m of messages) {
      yield m
      if (++seen >= pending) break
    }
  } finally {
    await messages.close().catch(() => {})
  }
}
