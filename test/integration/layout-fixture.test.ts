import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {
  DLQ_ARCHIVE_STREAM,
  DLQ_LEDGER_BUCKET,
  DLQ_RUNTIME_BUCKET,
  DLQ_TRIAGE_BUCKET,
  STREAMS,
} from '../../src/lib/layout/names.js'
import {connectSite, type SiteConnection} from '../../src/lib/nats/connection.js'
import {natsFixture, type NatsServerHandle} from '../helpers/nats.js'

describe('natsFixture({layout: true})', () => {
  let server: NatsServerHandle
  let conn: SiteConnection
  beforeAll(async () => {
    server = await natsFixture({name: 'osl1', layout: true})
    conn = await connectSite({name: 'osl1', servers: [server.url]}, {timeoutMs: 5000})
  })
  afterAll(async () => {
    await conn?.close()
    await server?.dispose()
  })

  it('gives a server with the standard streams, consumers and ledger bucket', async () => {
    const jsm = await conn.jsm()
    const names: string[] = []
    for await (const s of jsm.streams.list()) names.push(s.config.name)
    expect(names.sort()).toEqual(
      [
        ...Object.values(STREAMS),
        DLQ_ARCHIVE_STREAM,
        `KV_${DLQ_LEDGER_BUCKET}`,
        `KV_${DLQ_RUNTIME_BUCKET}`,
        `KV_${DLQ_TRIAGE_BUCKET}`,
      ].sort(),
    )
    const maskin = await jsm.consumers.info(STREAMS.cmd, 'maskin')
    expect(maskin.config.filter_subject).toBe('dv.maskin.cmd.>')
    expect(maskin.config.max_deliver).toBe(5)
  })
})
