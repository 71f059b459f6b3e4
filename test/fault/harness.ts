// Shared by the fault tests: read a whole stream back (the tests assert on stream contents), and poll.
import type {SiteConnection} from '../../src/lib/nats/connection.js'

export interface StreamEntry {
  seq: number
  subject: string
  headers: Record<string, string>
  text: string
}

/** Every message of a stream, in order, through an ordered consumer (one pass, no per-message requests). */
export async function readStream(conn: SiteConnection, stream: string): Promise<StreamEntry[]> {
  const jsm = await conn.jsm()
  const total = (await jsm.streams.info(stream)).state.messages
  const entries: StreamEntry[] = []
  if (total === 0) return entries
  const js = await conn.js()
  const consumer = await js.consumers.get(stream)
  const decoder = new TextDecoder()
  while (entries.length < total) {
    const batch = await consumer.fetch({max_messages: Math.min(1000, total - entries.length), expires: 5000})
    let got = 0
    for await (const m of batch) {
      got++
      const headers: Record<string, string> = {}
      if (m.headers) for (const [k, v] of m.headers) headers[k] = v[0]
      entries.push({seq: m.seq, subject: m.subject, headers, text: decoder.decode(m.data)})
    }
    if (got === 0) break
  }
  return entries
}

/** Polls until `check` returns a value; real outcomes (advisories, reconnects, catch-up) are asynchronous. */
export async function eventually<T>(
  check: () => Promise<T | undefined>,
  timeoutMs = 30_000,
  what = 'condition',
): Promise<T> {
  const until = Date.now() + timeoutMs
  for (;;) {
    const value = await check().catch(() => undefined)
    if (value !== undefined) return value
    if (Date.now() > until) throw new Error(`${what} not met within ${timeoutMs} ms`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
