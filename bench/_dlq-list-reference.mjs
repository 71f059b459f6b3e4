#!/usr/bin/env node
// The reference process of bench/dlq-list.mjs (not run on its own by `npm run bench`): what a plain script does
// to list dead letters without dvctl. It drains DV_DLQ with one ordered consumer, parses each advisory, and
// direct-gets each original from its stream, WINDOW gets in flight. No checks, no failure join, no ledger, no
// output beyond a count. Usage: node bench/_dlq-list-reference.mjs URL
import {jetstream, jetstreamManager} from '@nats-io/jetstream'
import {connect} from '@nats-io/transport-node'

const [url] = process.argv.slice(2)
const WINDOW = 128

const nc = await connect({servers: url})
const js = jetstream(nc)
const jsm = await jetstreamManager(nc)
const last = (await jsm.streams.info('DV_DLQ')).state.last_seq
const wanted = []
const consumer = await js.consumers.get('DV_DLQ', {opt_start_seq: 1})
const messages = await consumer.consume({max_messages: 1000})
for await (const m of messages) {
  const advisory = m.json()
  wanted.push({stream: advisory.stream, seq: advisory.stream_seq})
  if (m.seq >= last) break
}
let next = 0
let found = 0
await Promise.all(
  Array.from({length: WINDOW}, async () => {
    while (next < wanted.length) {
      const {stream, seq} = wanted[next++]
      const original = await jsm.direct.getMessage(stream, {seq})
      if (original) found++
    }
  }),
)
await nc.close()
console.log(JSON.stringify({advisories: wanted.length, originals: found}))
