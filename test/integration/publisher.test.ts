// AckedPublisher (src/lib/nats/publisher.ts), the pipelined publish behind replay and a listing's archive
// fill, against a real nats-server: what is stored (data, headers, Nats-Msg-Id), and what is refused.
import {jetstreamManager, type JetStreamManager} from '@nats-io/jetstream'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {connectSite, type SiteConnection} from '../../src/lib/nats/connection.js'
import {AckedPublisher, InvalidHeaderError} from '../../src/lib/nats/publisher.js'
import {natsFixture, type NatsServerHandle} from '../helpers/nats.js'

const data = new TextEncoder().encode('{"id":"c-1"}')

describe('AckedPublisher', {timeout: 60_000}, () => {
  let server: NatsServerHandle
  let conn: SiteConnection
  let jsm: JetStreamManager

  beforeAll(async () => {
    server = await natsFixture({name: 'pub'})
    conn = await connectSite({name: 'pub', servers: [server.url]}, {timeoutMs: 2000})
    jsm = await jetstreamManager(conn.nc)
    await jsm.streams.add({name: 'P', subjects: ['p.>'], duplicate_window: 60e9})
  })
  afterAll(async () => {
    await conn?.close()
    await server?.dispose()
  })

  const stored = async () => (await jsm.streams.info('P')).state.messages

  it('stores the data with the headers in order and the Nats-Msg-Id; the same id again is a duplicate', async () => {
    const publisher = await AckedPublisher.open(conn.nc, conn.timeoutMs)
    try {
      // A Nats-Msg-Id among the headers is replaced by the msgID, as the client's js.publish sets it.
      const headers = [
        ['X-Trace', 'a'],
        ['Nats-Msg-Id', 'stale'],
        ['Dv-Replay-Of', 'DV_CMD:7'],
        ['X-Trace', 'b'],
      ] as const
      const ack = await publisher.publish('p.one', data, {msgID: 'id-1', headers})
      expect(ack).toEqual({stream: 'P', seq: 1, duplicate: false})
      const m = await jsm.streams.getMessage('P', {seq: 1})
      expect(Buffer.from(m!.data).equals(Buffer.from(data))).toBe(true)
      expect([...m!.header!].map(([k, v]) => [k, [...v]])).toEqual([
        ['X-Trace', ['a', 'b']],
        ['Dv-Replay-Of', ['DV_CMD:7']],
        ['Nats-Msg-Id', ['id-1']],
      ])
      expect(await publisher.publish('p.one', data, {msgID: 'id-1', headers})).toEqual({
        stream: 'P',
        seq: 1,
        duplicate: true,
      })
      expect(await stored()).toBe(1)
    } finally {
      publisher.close()
    }
  })

  it('sends nothing with a header the protocol cannot carry, nor once closed', async () => {
    const publisher = await AckedPublisher.open(conn.nc, conn.timeoutMs)
    const before = await stored()
    await expect(
      publisher.publish('p.two', data, {msgID: 'id-2', headers: [['X-Trace', 'a\r\nNats-Msg-Id: forged']]}),
    ).rejects.toBeInstanceOf(InvalidHeaderError)
    publisher.close()
    await expect(publisher.publish('p.two', data, {msgID: 'id-3', headers: []})).rejects.toThrow(/closed/i)
    // A publish that did reach the server would be stored by now: the next one is acknowledged after it.
    const check = await AckedPublisher.open(conn.nc, conn.timeoutMs)
    await check.publish('p.check', data, {msgID: 'id-4', headers: []})
    check.close()
    expect(await stored()).toBe(before + 1)
  })
})
