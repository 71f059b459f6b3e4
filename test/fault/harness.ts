// Shared by the fault tests: read a whole stream back (the tests assert on stream contents), poll, and seed
// dead letters, and check a replay's outcome.
import {expect} from 'vitest'

import {DlqListResult} from '../../src/lib/dlq/model.js'
import {STREAMS} from '../../src/lib/layout/names.js'
import type {SiteConnection} from '../../src/lib/nats/connection.js'
import type {CliResult} from '../helpers/cli.js'
import {waitFor} from '../helpers/wait.js'
import {command, terminate} from '../integration/dlq-fixture.js'

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
export function eventually<T>(check: () => Promise<T | undefined>, timeoutMs = 30_000, what = 'condition'): Promise<T> {
  return waitFor(check, {timeoutMs, what})
}

/**
 * The dead letters a replay fault test works on: `count` valid commands published to DV_CMD (Nats-Msg-Id =
 * envelope id), each terminated by a worker on the layout's own `maskin` consumer, so that DV_DLQ holds one
 * `terminated` advisory per command. (Adding `maskin` again with another config is refused by 2.10+
 * servers: consumer already exists.) Returns DV_CMD seq -> envelope text of every command.
 */
export async function seedDeadLetters(
  conn: SiteConnection,
  count: number,
  options: {fetchBatch?: number; timeoutMs?: number} = {},
): Promise<Map<number, string>> {
  const js = await conn.js()
  const jsm = await conn.jsm()
  const originals = new Map<number, string>()
  await Promise.all(
    Array.from({length: count}, async (_, i) => {
      const env = command('maskin.server.provision.requested', {data: {server_id: `srv-${i}`, profile: 'small'}})
      const text = JSON.stringify(env)
      const ack = await js.publish('dv.maskin.cmd.provision', text, {msgID: String(env.id)})
      originals.set(ack.seq, text)
    }),
  )
  const consumer = await js.consumers.get(STREAMS.cmd, 'maskin')
  await terminate(consumer, count, options.fetchBatch)
  await waitFor(async () => (await jsm.streams.info(STREAMS.dlq)).state.messages === count, {
    timeoutMs: options.timeoutMs ?? 60_000,
    what: `${count} advisories in DV_DLQ`,
  })
  return originals
}

/**
 * After a replay of every seeded dead letter: the stream holds each original once and exactly one
 * byte-identical copy of each (by Dv-Replay-Of), and nothing else; then the ledger agrees (all replayed).
 */
export async function expectEachReplayedOnce(
  entries: StreamEntry[],
  originals: Map<number, string>,
  listAll: () => Promise<CliResult>,
): Promise<void> {
  const copies = new Map<string, StreamEntry[]>()
  for (const e of entries) {
    const of = e.headers['Dv-Replay-Of']
    if (of) copies.set(of, [...(copies.get(of) ?? []), e])
  }
  const multiple = [...copies.entries()].filter(([, c]) => c.length > 1).map(([ref, c]) => `${ref} x${c.length}`)
  expect(multiple).toEqual([])
  const missing = [...originals.keys()].filter((seq) => !copies.has(`DV_CMD:${seq}`))
  expect(missing).toEqual([])
  expect(copies.size).toBe(originals.size)
  for (const [seq, text] of originals) expect(copies.get(`DV_CMD:${seq}`)![0].text).toBe(text)
  expect(entries.length).toBe(2 * originals.size)

  const listed = await listAll()
  expect(listed.exitCode, listed.stdout + listed.stderr).toBe(0)
  const list = DlqListResult.parse(listed.json())
  expect(list.dead_letters).toHaveLength(originals.size)
  expect(list.dead_letters.filter((d) => d.status !== 'replayed').map((d) => d.ref)).toEqual([])
}
