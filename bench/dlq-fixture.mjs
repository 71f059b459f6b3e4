// Shared by bench/dlq-list.mjs and bench/replay.mjs (inert when run alone): a private nats-server with the
// dead-letter path of the standard layout and COUNT real dead letters. Commands are published to DV_CMD, a
// worker-like pull consumer terms each one (so the server itself publishes the MSG_TERMINATED advisories
// into DV_DLQ), and a `dv.task.evt.failed` event caused by each command is stored in DV_TASK.
import {randomUUID} from 'node:crypto'

import {AckPolicy, jetstream, jetstreamManager} from '@nats-io/jetstream'
import {Kvm} from '@nats-io/kv'
import {connect} from '@nats-io/transport-node'

import {startNatsServer} from '../dist/lib/sandbox/nats-server.js'

export const DLQ_SUBJECTS = [
  '$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.>',
  '$JS.EVENT.ADVISORY.CONSUMER.MSG_TERMINATED.>',
]
const TYPES = ['maskin.server.provision.requested', 'maskin.server.reboot.requested', 'nett.apply.requested']

/** Publishes with many acks in flight (a bounded window), the way a fast producer would. */
export async function pipelined(count, window, publishOne) {
  let next = 0
  await Promise.all(
    Array.from({length: window}, async () => {
      while (next < count) await publishOne(next++)
    }),
  )
}

export async function deadLetterSite(count, name = 'bench', {allowDirect = false} = {}) {
  const server = await startNatsServer({name})
  const nc = await connect({servers: server.url})
  const jsm = await jetstreamManager(nc)
  const js = jetstream(nc)
  await jsm.streams.add({
    name: 'DV_CMD',
    subjects: ['dv.*.cmd.>'],
    duplicate_window: 120e9,
    ...(allowDirect ? {allow_direct: true} : {}),
  })
  await jsm.streams.add({name: 'DV_TASK', subjects: ['dv.task.evt.>']})
  await jsm.streams.add({name: 'DV_DLQ', subjects: DLQ_SUBJECTS})
  // The dead-letter archive as the standard layout declares it: the first `dlq list` fills it.
  await jsm.streams.add({name: 'DV_DLQ_ARCHIVE', subjects: ['dvarchive.>'], max_msgs_per_subject: 1})
  // The ledger and the runtime bucket (replay jobs) as the standard layout declares them (`layout apply`).
  await new Kvm(js).create('dv_dlq_ledger', {history: 64})
  await new Kvm(js).create('dv_dlq_runtime', {history: 1})
  await jsm.consumers.add('DV_CMD', {durable_name: 'worker', ack_policy: AckPolicy.Explicit, max_deliver: 5})

  const enc = new TextEncoder()
  const commands = []
  await pipelined(count, 256, async (i) => {
    const type = TYPES[i % TYPES.length]
    const service = type.split('.')[0]
    const envelope = {
      specversion: '1.0',
      id: randomUUID(),
      type,
      source: 'sentral',
      time: new Date().toISOString(),
      datacontenttype: 'application/json',
      tenant_id: `tenant-${i % 17}`,
      actor: 'user:bench',
      correlation_id: randomUUID(),
      data: {server_id: `srv-${i}`, profile: 'small', hostname: `web-${i}.example.net`},
    }
    commands[i] = envelope
    await js.publish(`dv.${service}.cmd.${type.split('.')[2]}`, enc.encode(JSON.stringify(envelope)), {
      msgID: envelope.id,
    })
  })
  await pipelined(count, 256, async (i) => {
    const c = commands[i]
    const event = {
      ...c,
      id: randomUUID(),
      type: 'task.failed',
      source: c.type.split('.')[0],
      causation_id: c.id,
      data: {
        task_id: `tsk-${i}`,
        state: 'failed',
        error: {code: `E${i % 5}`, message: 'quota exceeded', retryable: false},
      },
    }
    await js.publish('dv.task.evt.failed', enc.encode(JSON.stringify(event)), {msgID: event.id})
  })
  // The worker gives up on every command: the server publishes one terminated advisory each.
  const consumer = await js.consumers.get('DV_CMD', 'worker')
  let termed = 0
  while (termed < count) {
    const batch = await consumer.fetch({max_messages: 1000, expires: 2000})
    for await (const m of batch) {
      m.term()
      termed++
    }
  }
  for (;;) {
    const n = (await jsm.streams.info('DV_DLQ')).state.messages
    if (n >= count) break
    await new Promise((r) => setTimeout(r, 100))
  }
  return {
    server,
    nc,
    js,
    jsm,
    async dispose() {
      await nc.close()
      await server.dispose()
    },
  }
}
