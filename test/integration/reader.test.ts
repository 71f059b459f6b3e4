// The stream reader (src/lib/nats/reader.ts) against a real nats-server: what every stream-reading command
// builds on. Asserts on the sequences handed out (no gap, no repeat), the caught-up markers, and the
// consumers left on the server.
import {jetstream, jetstreamManager, type JetStreamManager} from '@nats-io/jetstream'
import type {NatsConnection} from '@nats-io/transport-node'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {connectSite, type SiteConnection} from '../../src/lib/nats/connection.js'
import {StalledError} from '../../src/lib/nats/errors.js'
import {serverAtLeast} from '../../src/lib/nats/server-version.js'
import {drainStream, readStream, readStreams, StreamMissing, type ReadEvent} from '../../src/lib/nats/reader.js'
import {natsFixture, type NatsServerHandle} from '../helpers/nats.js'
import {eventually} from '../fault/harness.js'
import {connectTo} from './workflow-seed.js'

const body = (i: number, extra = '') => JSON.stringify({i, extra})

/** Publishes `count` messages `{i, extra}` (i from `from`) and waits for every ack. */
async function fill(nc: NatsConnection, subject: string, count: number, from = 0, extra = ''): Promise<void> {
  const js = jetstream(nc)
  const acks: Array<Promise<unknown>> = []
  for (let i = from; i < from + count; i++) acks.push(js.publish(subject, body(i, extra)))
  await Promise.all(acks)
}

async function consumerCount(jsm: JetStreamManager, stream: string): Promise<number> {
  return (await jsm.streams.info(stream)).state.consumer_count
}

/** Reads events until `until` holds for one (inclusive), or the read ends. */
async function take(
  iterator: AsyncIterator<ReadEvent>,
  until: (e: ReadEvent, all: ReadEvent[]) => boolean,
): Promise<ReadEvent[]> {
  const all: ReadEvent[] = []
  for (let r = await iterator.next(); !r.done; r = await iterator.next()) {
    all.push(r.value)
    if (until(r.value, all)) break
  }
  return all
}

const seqs = (events: ReadEvent[]) => events.flatMap((e) => (e.kind === 'message' ? [e.message.seq] : []))
const range = (from: number, to: number) => Array.from({length: to - from + 1}, (_, i) => from + i)

describe('stream reader', {timeout: 120_000}, () => {
  let server: NatsServerHandle
  let nc: NatsConnection
  let jsm: JetStreamManager
  let conn: SiteConnection
  let stream = 0

  /** A fresh stream of its own for each test: `R<n>` on `r<n>.>`. */
  async function freshStream(): Promise<{name: string; subject: string}> {
    stream++
    await jsm.streams.add({name: `R${stream}`, subjects: [`r${stream}.>`]})
    return {name: `R${stream}`, subject: `r${stream}`}
  }

  beforeAll(async () => {
    server = await natsFixture({name: 'osl1'})
    nc = await connectTo(server.url)
    jsm = await jetstreamManager(nc)
    conn = await connectSite({name: 'osl1', servers: [server.url]}, {timeoutMs: 2000})
  })
  afterAll(async () => {
    await Promise.allSettled([nc?.close(), conn?.close()])
    await server?.dispose()
  })

  it('reads the history that existed when it opened, not what is written during the read', async () => {
    const s = await freshStream()
    await fill(nc, `${s.subject}.a`, 500)
    const events = readStreams([{conn, stream: s.name}], {order: 'time', batch: 20})
    const iterator = events[Symbol.asyncIterator]()
    const first = await take(iterator, (e) => e.kind === 'message')
    // Written while the history is being read: after the read's end, so not part of it.
    await fill(nc, `${s.subject}.a`, 200, 500)
    const rest = await take(iterator, () => false)
    const all = [...first, ...rest]
    expect(seqs(all)).toEqual(range(1, 500))
    expect(all.at(-2)).toEqual({kind: 'stream-caught-up', site: 'osl1', stream: s.name})
    expect(all.at(-1)).toEqual({kind: 'caught-up'})
    await eventually(async () => ((await consumerCount(jsm, s.name)) === 0 ? true : undefined), 10_000, 'no consumer')
  })

  it('filters by subject, by raw bytes, from a time or a sequence, with headers', async () => {
    const s = await freshStream()
    await fill(nc, `${s.subject}.a`, 10)
    await fill(nc, `${s.subject}.b`, 10, 10, 'needle')
    await new Promise((r) => setTimeout(r, 50))
    const after = new Date()
    await fill(nc, `${s.subject}.a`, 5, 20, 'needle')
    const read = async (spec: Partial<Parameters<typeof readStream>[1]>, options = {}) => {
      const out: number[] = []
      for await (const m of readStream(conn, {stream: s.name, ...spec}, {headers: true, ...options})) out.push(m.seq)
      return out
    }
    expect(await read({filterSubject: `${s.subject}.b`})).toEqual(range(11, 20))
    expect(await read({needle: Buffer.from('needle')})).toEqual(range(11, 25))
    expect(await read({}, {start: {time: after}})).toEqual(range(21, 25))
    expect(await read({filterSubject: `${s.subject}.a`}, {start: {seq: 5}})).toEqual([
      ...range(5, 10),
      ...range(21, 25),
    ])
    const scan = readStream(conn, {stream: s.name, needle: Buffer.from('needle')})
    let n = 0
    for await (const _ of scan) n++
    expect(n).toBe(15)
    expect(scan.scanned).toBe(25)
    await expect(read({}, {start: 'new'})).resolves.toEqual([])
  })

  it('reports a missing stream as StreamMissing', async () => {
    const read = async () => {
      for await (const _ of readStream(conn, {stream: 'NOPE'})) void _
    }
    await expect(read()).rejects.toBeInstanceOf(StreamMissing)
  })

  it('merges the history of several streams by stored time, marks each caught up, then goes live', async () => {
    const a = await freshStream()
    const b = await freshStream()
    for (let i = 0; i < 6; i++) await fill(nc, `${i % 2 ? b.subject : a.subject}.x`, 1, i)
    const control = new AbortController()
    const iterator = readStreams(
      [
        {conn, stream: a.name},
        {conn, stream: b.name},
      ],
      {order: 'time', follow: true, signal: control.signal},
    )[Symbol.asyncIterator]()
    const history = await take(iterator, (e) => e.kind === 'caught-up')
    const order = history.flatMap((e) =>
      e.kind === 'message' ? [JSON.parse(Buffer.from(e.message.data).toString()).i] : [],
    )
    expect(order).toEqual([0, 1, 2, 3, 4, 5])
    expect(history.filter((e) => e.kind === 'stream-caught-up')).toHaveLength(2)
    await fill(nc, `${b.subject}.x`, 3, 100)
    const live = await take(iterator, (_, all) => all.filter((e) => e.kind === 'message').length === 3)
    expect(seqs(live)).toEqual([4, 5, 6])
    control.abort()
    expect((await iterator.next()).done).toBe(true)
    await eventually(
      async () => ((await consumerCount(jsm, a.name)) + (await consumerCount(jsm, b.name)) === 0 ? true : undefined),
      10_000,
      'consumers deleted',
    )
  })

  it('an abort mid-history ends the read and deletes its consumer', async () => {
    const s = await freshStream()
    await fill(nc, `${s.subject}.a`, 2000)
    const control = new AbortController()
    const iterator = readStreams([{conn, stream: s.name}], {order: 'arrival', batch: 50, signal: control.signal})[
      Symbol.asyncIterator
    ]()
    await take(iterator, (e) => e.kind === 'message')
    expect(await consumerCount(jsm, s.name)).toBe(1)
    control.abort()
    const rest = await take(iterator, () => false)
    expect(seqs(rest).length).toBeLessThan(1999)
    await eventually(async () => ((await consumerCount(jsm, s.name)) === 0 ? true : undefined), 10_000, 'no consumer')
  })

  it('a history whose end is purged during the read still ends (caught up, no stall)', async () => {
    const s = await freshStream()
    await fill(nc, `${s.subject}.a`, 300)
    const iterator = readStreams([{conn, stream: s.name}], {order: 'arrival', batch: 10})[Symbol.asyncIterator]()
    const first = await take(iterator, (e) => e.kind === 'message')
    await jsm.streams.purge(s.name)
    const rest = await take(iterator, () => false)
    const all = [...first, ...rest]
    expect(all.filter((e) => e.kind === 'site-error')).toEqual([])
    expect(all.at(-1)).toEqual({kind: 'caught-up'})
    const read = seqs(all)
    expect(read).toEqual(range(1, read.length))
  })

  it('resumes across a server restart mid-history and live, without gaps or repeats', async () => {
    const s = await freshStream()
    await fill(nc, `${s.subject}.a`, 1000)
    const own = await connectSite({name: 'osl1', servers: [server.url]}, {timeoutMs: 2000})
    const control = new AbortController()
    try {
      const iterator = readStreams([{conn: own, stream: s.name}], {
        order: 'time',
        follow: true,
        batch: 50,
        signal: control.signal,
      })[Symbol.asyncIterator]()
      const before = await take(iterator, (_, all) => seqs(all).length === 300)
      await server.stop()
      await server.start()
      const after = await take(iterator, (e) => e.kind === 'caught-up')
      expect(after.some((e) => e.kind === 'site-down')).toBe(true)
      const history = seqs([...before, ...after])
      expect(history).toEqual(range(1, 1000))
      // Live after the restart: the rest, once each.
      const nc2 = await connectTo(server.url)
      try {
        await fill(nc2, `${s.subject}.a`, 20, 1000)
      } finally {
        await nc2.close()
      }
      const live = await take(iterator, (_, all) => seqs(all).length === 20)
      expect(seqs(live)).toEqual(range(1001, 1020))
    } finally {
      control.abort()
      await own.close()
    }
  })

  it('a consumer whose pull reaches no one is replaced, and the read gets the whole history', async () => {
    // The first consumer is deleted as soon as it is made, so its pull reaches no one. nats-server 2.10+ then
    // answers "no responders" (503), as it does in a cluster for a consumer on a server whose interest in its
    // pulls has not reached this connection's server yet; the client alone would pull again only after two
    // missed heartbeats (30 s), past the read's 2 s bound. 2.9 does not answer such a pull at all.
    const s = await freshStream()
    await fill(nc, `${s.subject}.a`, 50)
    const own = await connectSite({name: 'osl1', servers: [server.url]}, {timeoutMs: 2000})
    try {
      const consumers = (await own.js()).consumers
      const get = consumers.get.bind(consumers)
      let unheard: string | undefined
      consumers.get = (async (...args: Parameters<typeof get>) => {
        const consumer = await get(...args)
        if (!unheard) {
          unheard = (await consumer.info(true)).name
          await jsm.consumers.delete(s.name, unheard)
        }
        return consumer
      }) as typeof consumers.get
      const read = async () => {
        const got: number[] = []
        for await (const m of readStream(own, {stream: s.name})) got.push(m.seq)
        return got
      }
      if (!serverAtLeast(nc.info?.version, '2.10.0')) {
        // Silence: the read ends with a StalledError, as with a server that stopped answering.
        await expect(read()).rejects.toBeInstanceOf(StalledError)
        return
      }
      expect(await read()).toEqual(range(1, 50))
      expect(unheard).toBeDefined()
      await eventually(
        async () => ((await consumerCount(jsm, s.name)) === 0 ? true : undefined),
        10_000,
        'no consumer left',
      )
    } finally {
      await own.close()
    }
  })

  it('a drain hands out the history once and in order across many pulls, not what is written during it', async () => {
    const s = await freshStream()
    await fill(nc, `${s.subject}.a`, 2000)
    const read: number[] = []
    let writing: Promise<void> | undefined
    const scanned = await drainStream(conn, {stream: s.name}, {batch: 20}, (m) => {
      read.push(m.seq)
      // Written while the history is drained (the drain takes messages without waiting in between).
      if (read.length === 100) writing = fill(nc, `${s.subject}.a`, 300, 2000)
    })
    await writing
    expect(read).toEqual(range(1, 2000))
    expect(scanned).toBeGreaterThanOrEqual(2000)
    await eventually(async () => ((await consumerCount(jsm, s.name)) === 0 ? true : undefined), 10_000, 'no consumer')
  })

  it('a drain ends early when its taker says so, and takes only what matches its filters', async () => {
    const s = await freshStream()
    await fill(nc, `${s.subject}.a`, 500)
    await fill(nc, `${s.subject}.b`, 500, 500, 'needle')
    const first: number[] = []
    await drainStream(conn, {stream: s.name}, {batch: 50}, (m) => first.push(m.seq) < 30)
    expect(first).toEqual(range(1, 30))
    await eventually(async () => ((await consumerCount(jsm, s.name)) === 0 ? true : undefined), 10_000, 'no consumer')
    const matched: number[] = []
    const needle = new TextEncoder().encode('needle')
    await drainStream(conn, {stream: s.name, needle}, {batch: 50}, (m) => void matched.push(m.seq))
    expect(matched).toEqual(range(501, 1000))
    const filtered: number[] = []
    await drainStream(conn, {stream: s.name, filterSubject: `${s.subject}.a`}, {}, (m) => void filtered.push(m.seq))
    expect(filtered).toEqual(range(1, 500))
  })

  it('a bounded read from a server that dies fails with a StalledError within the timeout', async () => {
    const s = await freshStream()
    await fill(nc, `${s.subject}.a`, 3000)
    const own = await connectSite({name: 'osl1', servers: [server.url]}, {timeoutMs: 1000})
    try {
      const iterator = readStreams([{conn: own, stream: s.name}], {order: 'arrival', batch: 10})[Symbol.asyncIterator]()
      await take(iterator, (e) => e.kind === 'message')
      const killedAt = Date.now()
      await server.kill()
      const rest = await take(iterator, () => false)
      const failure = rest.find((e) => e.kind === 'site-error')
      expect(failure && failure.kind === 'site-error' && failure.error).toBeInstanceOf(StalledError)
      expect(Date.now() - killedAt).toBeLessThan(4000)
    } finally {
      await server.start()
      await own.close()
    }
  })

  it('a drain from a server that dies fails with a StalledError within the timeout', async () => {
    // The test before restarted the server: the shared connection reconnects and JetStream recovers first.
    await eventually(
      async () => ((await jsm.getAccountInfo().catch(() => null)) ? true : undefined),
      30_000,
      'JetStream',
    )
    const s = await freshStream()
    await fill(nc, `${s.subject}.a`, 3000)
    const own = await connectSite({name: 'osl1', servers: [server.url]}, {timeoutMs: 1000})
    let killedAt = 0
    let killing: Promise<void> | undefined
    try {
      const drained = drainStream(own, {stream: s.name}, {batch: 10}, () => {
        if (!killing) {
          killedAt = Date.now()
          killing = server.kill()
        }
      })
      await expect(drained).rejects.toBeInstanceOf(StalledError)
      expect(Date.now() - killedAt).toBeLessThan(4000)
    } finally {
      await killing
      await server.start()
      await own.close()
    }
  })
})
