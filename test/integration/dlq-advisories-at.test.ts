// advisoriesAt (read.ts): the advisories DV_DLQ stores at given sequences, as a tracker reads them back when it
// checks a dead letter again (pending.ts). Few are read one get each, many in one pass; both give what a scan of
// DV_DLQ gives for those sequences, and leave out what is gone or is not a valid advisory.
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {advisoriesAt, scanAdvisories} from '../../src/lib/dlq/read.js'
import {STREAMS} from '../../src/lib/layout/names.js'
import {startDlqSite, type DlqSite} from './dlq-fixture.js'

const MAX_DELIVERIES = `$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.${STREAMS.cmd}.maskin`

describe('advisoriesAt', {timeout: 60_000}, () => {
  let site: DlqSite
  beforeAll(async () => {
    site = await startDlqSite()
  })
  afterAll(async () => site?.dispose())

  it('reads few by get and many in one pass, as a scan of DV_DLQ reads them', async () => {
    const js = await site.conn.js()
    const seqs: number[] = []
    for (let i = 1; i <= 300; i++) {
      const advisory = {
        type: 'io.nats.jetstream.advisory.v1.max_deliver',
        id: `a${i}`,
        timestamp: new Date().toISOString(),
        stream: STREAMS.cmd,
        consumer: 'maskin',
        stream_seq: i,
        deliveries: 2,
      }
      seqs.push((await js.publish(MAX_DELIVERIES, JSON.stringify(advisory))).seq)
    }
    const garbage = (await js.publish(MAX_DELIVERIES, '{"not": "an advisory"}')).seq
    const scanned = new Map([...(await scanAdvisories(site.conn, {})).valid.values()].map((r) => [r.seq, r]))
    expect(scanned.size).toBe(300)

    // Many: one pass from the first of them.
    const many = await advisoriesAt(site.conn, [...seqs, garbage].reverse())
    expect(new Map([...many].sort(([a], [b]) => a - b))).toEqual(scanned)

    // Few: one get each; a sequence DV_DLQ does not have and an invalid message are left out.
    const few = await advisoriesAt(site.conn, [seqs[7], seqs[3], garbage, garbage + 1000])
    expect([...few.keys()].sort((a, b) => a - b)).toEqual([seqs[3], seqs[7]])
    for (const [seq, record] of few) expect(record).toEqual(scanned.get(seq))
  })
})
