#!/usr/bin/env node
// The floor process of bench/replay.mjs (not run on its own by `npm run bench`): the least any replay that reads
// its dead letters must do, with the raw client and nothing else. It connects, reads the COUNT advisories of
// DV_DLQ (one ordered consumer; each parsed for the stream sequence it names), reads those originals from DV_CMD
// (one ordered consumer over their range) and publishes each to its own subject with a Nats-Msg-Id, WINDOW acks
// in flight, as the reference does. The reference plus the advisories: no checks, no ledger, no job, no output.
// Usage: node bench/_replay-floor.mjs URL COUNT ROUND
import {jetstream} from '@nats-io/jetstream'
import {connect} from '@nats-io/transport-node'

const [url, countText, round] = process.argv.slice(2)
const COUNT = Number(countText)
const WINDOW = 256

const nc = await connect({servers: url})
const js = jetstream(nc)
const decoder = new TextDecoder()

const wanted = new Set()
const advisories = await (await js.consumers.get('DV_DLQ', {opt_start_seq: 1})).consume({max_messages: 1000})
for await (const m of advisories) {
  wanted.add(JSON.parse(decoder.decode(m.data)).stream_seq)
  if (m.seq >= COUNT) break
}
let first = Infinity
let last = 0
for (const seq of wanted) {
  first = Math.min(first, seq)
  last = Math.max(last, seq)
}
const originals = []
const messages = await (await js.consumers.get('DV_CMD', {opt_start_seq: first})).consume({max_messages: 1000})
for await (const m of messages) {
  if (wanted.has(m.seq)) originals.push({subject: m.subject, data: m.data})
  if (m.seq >= last) break
}
let next = 0
await Promise.all(
  Array.from({length: WINDOW}, async () => {
    while (next < originals.length) {
      const i = next++
      await js.publish(originals[i].subject, originals[i].data, {msgID: `floor-${round}-${i}`})
    }
  }),
)
await nc.close()
console.log(JSON.stringify({published: originals.length}))
