// A replay of several journal chunks (docs/architecture.md, "The dead-letter ledger"): the chunks overlap (a chunk's
// `replaying` record is written while the one before it is sent), and still no copy is stored before the record
// naming its replay id, every chunk ends with a `replayed` record naming each copy, and each dead letter is sent once.
import {Kvm} from '@nats-io/kv'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {DlqHistoryResult, DlqReplayResult} from '../../src/lib/dlq/model.js'
import {DLQ_LEDGER_BUCKET, STREAMS} from '../../src/lib/layout/names.js'
import {runCommand} from '../helpers/run.js'
import {command, type DlqSite, eventually, startDlqSite, streamMessages, terminate} from './dlq-fixture.js'

/** More than two chunks of 1,000. */
const COUNT = 2300

/** A server timestamp (RFC 3339, up to nanoseconds) as nanoseconds since the epoch, for exact ordering. */
function nanos(timestamp: string): bigint {
  const m = /^(.*T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?Z$/.exec(timestamp)
  if (!m) throw new Error(`not a UTC timestamp: ${timestamp}`)
  return BigInt(Date.parse(`${m[1]}Z`)) * 1_000_000n + BigInt((m[2] ?? '').padEnd(9, '0'))
}

/** Runs `fn` over `items`, `limit` at a time. */
async function pooled<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0
  await Promise.all(
    Array.from({length: limit}, async () => {
      while (next < items.length) await fn(items[next++])
    }),
  )
}

describe('dlq replay over several journal chunks', {timeout: 300_000}, () => {
  let site: DlqSite

  beforeAll(async () => {
    site = await startDlqSite()
    const js = await site.conn.js()
    await pooled(
      Array.from({length: COUNT}, (_, i) => i),
      64,
      async () => {
        const envelope = command('maskin.server.provision.requested')
        await js.publish('dv.maskin.cmd.provision', JSON.stringify(envelope), {msgID: String(envelope.id)})
      },
    )
    // The layout's maskin worker gives up on each: one terminated advisory each, in DV_DLQ.
    const consumer = await js.consumers.get(STREAMS.cmd, 'maskin')
    await terminate(consumer, COUNT, 500)
    await eventually(async () => ((await streamMessages(site.conn, STREAMS.dlq)) >= COUNT ? true : undefined))
  })

  afterAll(async () => {
    await site?.dispose()
  })

  it('stores every copy after its chunk’s replaying record, records each chunk as replayed, sends each once', async () => {
    const r = await runCommand(['dlq', 'replay', '--all', '--yes', '--json', '--server', site.server.url])
    expect(r.exitCode, r.stderr).toBe(0)
    const result = DlqReplayResult.parse(r.json())
    expect(result.replayed).toHaveLength(COUNT)
    expect(result.replayed.filter((x) => x.duplicate)).toEqual([])
    expect(new Set(result.replayed.map((x) => x.ref)).size).toBe(COUNT)

    // Each chunk's journal: its `replaying` record, then its `replayed` record naming every copy.
    const kv = await new Kvm(await site.conn.js()).open(DLQ_LEDGER_BUCKET)
    const records = new Map<string, Array<{revision: number; value: Record<string, unknown>}>>()
    for await (const e of await kv.history({key: '_replays.>'})) {
      const list = records.get(e.key) ?? []
      list.push({revision: e.revision, value: e.json()})
      records.set(e.key, list)
    }
    expect(records.size).toBe(Math.ceil(COUNT / 1000))
    const jsm = await site.conn.jsm()
    const copies = new Set<number>()
    for (const [key, [started, finished, ...more]] of records) {
      expect(more, key).toEqual([])
      expect(started.value.action, key).toBe('replaying')
      expect(finished.value.action, key).toBe('replayed')
      const items = finished.value.items as Array<{replay_id: string; new_seq?: number}>
      expect(items.map((i) => i.replay_id)).toEqual(
        (started.value.items as Array<{replay_id: string}>).map((i) => i.replay_id),
      )
      const record = await jsm.streams.getMessage(`KV_${DLQ_LEDGER_BUCKET}`, {seq: started.revision})
      const recordedAt = nanos(record!.timestamp)
      await pooled(items, 64, async (item) => {
        expect(item.new_seq, item.replay_id).toBeTypeOf('number')
        const copy = (await jsm.streams.getMessage(STREAMS.cmd, {seq: item.new_seq!}))!
        expect(copy.header.get('Dv-Replay-Id')).toBe(item.replay_id)
        // Never before the record that names it (a crash would otherwise leave a copy no journal knows of).
        expect(nanos(copy.timestamp) >= recordedAt, `${item.replay_id} stored before ${key} said replaying`).toBe(true)
        copies.add(item.new_seq!)
      })
    }
    expect(copies.size).toBe(COUNT)
    // Nothing else was sent: the originals and one copy each.
    expect(await streamMessages(site.conn, STREAMS.cmd)).toBe(2 * COUNT)

    // One dead letter's audit trail holds its own journal's record of it, and no other's: DV_CMD.1 is a prefix of
    // the keys of DV_CMD:10, :100 and :1000, in the same journals (dlq history reads only the journals that name it).
    for (const seq of [1, 1000, COUNT]) {
      const replayed = result.replayed.find((x) => x.ref === `DV_CMD:${seq}`)!
      const h = await runCommand(['dlq', 'history', `DV_CMD:${seq}`, '--json', '--server', site.server.url])
      expect(h.exitCode, h.stderr).toBe(0)
      expect(DlqHistoryResult.parse(h.json()).history).toMatchObject([
        {ref: `DV_CMD:${seq}`, action: 'replayed', replay_id: replayed.replay_id, new_seq: replayed.new_seq},
      ])
    }

    // Run again: nothing pending is left, nothing more is sent.
    const again = await runCommand(['dlq', 'replay', '--all', '--yes', '--json', '--server', site.server.url])
    expect(again.exitCode, again.stderr).toBe(0)
    expect(DlqReplayResult.parse(again.json()).replayed).toEqual([])
    expect(await streamMessages(site.conn, STREAMS.cmd)).toBe(2 * COUNT)
  })
})
