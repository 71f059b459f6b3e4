#!/usr/bin/env node
// The reference and floor processes of bench/replay.mjs (not run on their own by `npm run bench`): what a plain
// script does to re-send COUNT dead letters without dvctl.
//   reference  It connects, reads the originals DV_CMD:1..COUNT with one ordered consumer, and publishes each to
//              its own subject with a Nats-Msg-Id, WINDOW acks in flight. No advisories, no checks, no ledger.
//   floor      (`advisories` as the fourth argument) The same, but first it reads the COUNT advisories of DV_DLQ
//              (one ordered consumer, each parsed for the stream sequence it names) and then reads and sends the
//              originals they name: the least any replay that reads its dead letters does.
// Usage: node bench/_replay-reference.mjs URL COUNT ROUND [advisories]
import {jetstream} from '@nats-io/jetstream'
import {connect} from '@nats-io/transport-node'

const [url, countText, round, mode] = process.argv.slice(2)
const COUNT = Number(countText)
const WINDOW = 256

const nc = await connect({servers: url})
const js = jetstream(nc)

let first = 1
let last = COUNT
let wanted
if (mode === 'advisories') {
  wanted = new Set()
  const decoder = new TextDecoder()
  const advisories = await (await js.consumers.get('DV_DLQ', {opt_start_seq: 1})).consume({max_messages: 1000})
  for await (const m of advisories) {
    wanted.add(JSON.parse(decoder.decode(m.data)).stream_seq)
    if (m.seq >= COUNT) break
  }
  first = Infinity
  last = 0
  for (const seq of wanted) {
    first = Math.min(first, seq)
    last = Math.max(last, seq)
  }
}
const originals = []
const consumer = await js.consumers.get('DV_CMD', {opt_start_seq: first})
const messages = await consumer.consume({max_messages: 1000})
for await (const m of messages) {
  if (!wanted || wanted.has(m.seq)) originals.push({subject: m.subject, data: m.data})
  if (m.seq >= last) break
}
let next = 0
await Promise.all(
  Array.from({length: WINDOW}, async () => {
    while (next < originals.length) {
      const i = next++
      await js.publish(originals[i].subject, originals[i].data, {msgID: `${mode ?? 'ref'}-${round}-${i}`})
    }
  }),
)
await nc.close()
console.log(JSON.stringify({published: originals.length}))
