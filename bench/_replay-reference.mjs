#!/usr/bin/env node
// The reference process of bench/replay.mjs (not run on its own by `npm run bench`): what a plain script does
// to re-send COUNT dead letters without dvctl. It connects, reads the originals DV_CMD:1..COUNT with one
// ordered consumer, and publishes each to its own subject with a Nats-Msg-Id, WINDOW acks in flight. No
// advisories, no checks, no ledger. Usage: node bench/_replay-reference.mjs URL COUNT ROUND
import {jetstream} from '@nats-io/jetstream'
import {connect} from '@nats-io/transport-node'

const [url, countText, round] = process.argv.slice(2)
const COUNT = Number(countText)
const WINDOW = 256

const nc = await connect({servers: url})
const js = jetstream(nc)
const originals = []
const consumer = await js.consumers.get('DV_CMD', {opt_start_seq: 1})
const messages = await consumer.consume({max_messages: 1000})
for await (const m of messages) {
  originals.push({subject: m.subject, data: m.data})
  if (m.seq >= COUNT) break
}
let next = 0
await Promise.all(
  Array.from({length: WINDOW}, async () => {
    while (next < originals.length) {
      const i = next++
      await js.publish(originals[i].subject, originals[i].data, {msgID: `ref-${round}-${i}`})
    }
  }),
)
await nc.close()
console.log(JSON.stringify({published: originals.length}))
