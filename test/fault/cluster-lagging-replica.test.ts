// Fault: a read of a replicated stream whose consumer lands on a replica that is still catching up. A
// `--cluster 3` sandbox site; a follower of an R3 stream is killed, the stream grows while it is down, and
// it is restarted. Reads that begin while it catches up (their R1 ordered consumers are placed on any of
// the stream's servers, the restarted one among them) must still see the whole history as it was when they
// opened: every message of a stream read, and every key's last value in a last-per-subject (KV) read. A
// read that stops where a lagging replica's store ends would make a dead-letter ledger miss the newest
// replay journals, and a re-run send everything again.
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {connectSite, type SiteConnection} from '../../src/lib/nats/connection.js'
import {readStream, type StoredMessage} from '../../src/lib/nats/reader.js'
import {sandboxFixture, type SandboxFixture} from '../helpers/nats.js'
import {eventually} from './harness.js'

const STREAM = 'LAGTEST'
const BEFORE = 2_000
const WHILE_DOWN = 20_000
const KEYS = 50
const READS = 12

describe('reads of a replicated stream while a replica catches up', {timeout: 600_000}, () => {
  let fx: SandboxFixture
  let conn: SiteConnection

  beforeAll(async () => {
    fx = await sandboxFixture({sites: ['osl1'], cluster: 3, layout: false})
    const site = fx.sites[0]
    conn = await connectSite({name: 'osl1', servers: site.servers, js_domain: 'osl1'}, {timeoutMs: 15_000})
  }, 240_000)

  afterAll(async () => {
    await conn?.close()
    await fx?.dispose()
  })

  it('hands out the whole history whichever replica the read consumer is on', async () => {
    // A new cluster elects its meta leader first: JetStream answers, then the stream is created.
    const jsm = await eventually(() => conn.jsm().catch(() => undefined), 120_000, 'JetStream answering')
    const js = await conn.js()
    await eventually(
      () => jsm.streams.add({name: STREAM, subjects: ['lag.>'], num_replicas: 3}).catch(() => undefined),
      120_000,
      'the stream created',
    )
    const payload = new Uint8Array(512).fill(120)
    // `lag.key.<k>`: KEYS subjects written over and over (the last value of each is what a KV read wants);
    // `lag.bulk`: the rest.
    const publishAll = async (n: number, offset: number) => {
      for (let i = 0; i < n; i += 500) {
        const batch = []
        for (let j = i; j < Math.min(n, i + 500); j++) {
          const k = offset + j
          batch.push(js.publish(k % 10 === 0 ? `lag.key.${(k / 10) % KEYS}` : 'lag.bulk', payload))
        }
        await Promise.all(batch)
      }
    }
    await publishAll(BEFORE, 0)

    const leader = (await jsm.streams.info(STREAM)).cluster?.leader
    // A follower, and not the server this test's connection is on (its publishes go on while it is down).
    const victim = fx.sites[0].nodes.find((n) => n.name !== leader && n.name !== conn.nc.info?.server_name)!
    process.kill(victim.pid, 'SIGKILL')
    await publishAll(WHILE_DOWN, BEFORE)
    const info = await jsm.streams.info(STREAM)
    const total = info.state.last_seq
    expect(total).toBe(BEFORE + WHILE_DOWN)
    // The newest value of each key, by the leader.
    const lastOfKey = new Map<string, number>()
    for (let k = 0; k < KEYS; k++) {
      const m = await jsm.streams.getMessage(STREAM, {last_by_subj: `lag.key.${k}`})
      lastOfKey.set(`lag.key.${k}`, m!.seq)
    }

    await fx.restart()
    await eventually(
      async () => ((await jsm.streams.info(STREAM)).cluster?.replicas?.length ? true : undefined),
      60_000,
      'the restarted replica reported',
    )
    // Reads start at once, while the restarted node may still be fetching what it missed.
    const collect = async (start?: 'last-per-subject') => {
      const got: StoredMessage[] = []
      for await (const m of readStream(conn, {stream: STREAM}, {start})) got.push(m)
      return got
    }
    const reads = await Promise.all(
      Array.from({length: READS}, (_, i) => (i % 2 === 0 ? collect() : collect('last-per-subject'))),
    )
    reads.forEach((got, i) => {
      if (i % 2 === 0) {
        expect(got.length, `full read ${i}`).toBe(total)
        expect(got.at(-1)?.seq).toBe(total)
      } else {
        const keys = new Map(got.filter((m) => m.subject.startsWith('lag.key.')).map((m) => [m.subject, m.seq]))
        expect(keys, `last-per-subject read ${i}`).toEqual(lastOfKey)
        expect(got.at(-1)?.seq).toBe(total)
      }
    })
  })
})
