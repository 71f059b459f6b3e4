/**
 * Seeds a realistic two-site workflow for the workflow and tail tests (shared by those files only).
 */
import {randomUUID} from 'node:crypto'

import {connect, type NatsConnection} from '@nats-io/transport-node'
import {jetstream, jetstreamManager} from '@nats-io/jetstream'

import {SERVICES} from '../../src/lib/contract/services.js'
import {DLQ_ADVISORY_SUBJECTS, STREAMS} from '../../src/lib/layout/names.js'

/** The four standard streams (docs/operations.md, "Layouts"), created directly so these tests need nothing else. */
export async function ensureStreams(nc: NatsConnection): Promise<void> {
  const jsm = await jetstreamManager(nc)
  const specs: Array<[string, string[]]> = [
    [STREAMS.cmd, ['dv.*.cmd.>']],
    [STREAMS.evt, SERVICES.map((s) => `dv.${s}.evt.>`)],
    [STREAMS.task, ['dv.task.evt.>']],
    [STREAMS.dlq, [...DLQ_ADVISORY_SUBJECTS]],
  ]
  for (const [name, subjects] of specs) {
    try {
      await jsm.streams.info(name)
    } catch {
      await jsm.streams.add({name, subjects})
    }
  }
}

export interface Envelope {
  specversion: '1.0'
  id: string
  type: string
  source: string
  time: string
  actor: string
  correlation_id: string
  causation_id?: string
  subject?: string
  datacenter_id?: string
  tenant_id?: string
  data: Record<string, unknown>
}

let clock = Date.now() - 60_000

export function envelope(fields: Partial<Envelope> & Pick<Envelope, 'type' | 'source' | 'correlation_id'>): Envelope {
  clock += 250
  return {
    specversion: '1.0',
    id: randomUUID(),
    time: new Date(clock).toISOString(),
    actor: 'user:test',
    data: {},
    ...fields,
  }
}

export async function publish(nc: NatsConnection, subject: string, body: Envelope | string): Promise<number> {
  const js = jetstream(nc)
  const ack = await js.publish(subject, typeof body === 'string' ? body : JSON.stringify(body))
  return ack.seq
}

/** `count` messages of other workflows, some of whose ids contain the correlation id as a substring. */
export async function publishNoise(nc: NatsConnection, count: number, near: string): Promise<void> {
  const js = jetstream(nc)
  const pending: Array<Promise<unknown>> = []
  for (let i = 0; i < count; i++) {
    const correlation = i % 10 === 0 ? `${near}-${i}` : randomUUID()
    // Some mention the id in the payload without belonging to the workflow: the byte filter lets them
    // through, the parse must drop them.
    const note = i % 7 === 0 ? near : 'noise'
    const kind = i % 3
    const subject = ['dv.maskin.cmd.provision', 'dv.maskin.evt.server.provisioned', 'dv.task.evt.started'][kind]
    const e =
      kind === 0
        ? envelope({
            type: 'maskin.server.provision.requested',
            source: 'sentral',
            correlation_id: correlation,
            data: {server_id: `srv-${i}`, profile: 'small', note},
          })
        : kind === 1
          ? envelope({
              type: 'maskin.server.provisioned',
              source: 'maskin',
              correlation_id: correlation,
              data: {server_id: `srv-${i}`, note},
            })
          : envelope({
              type: 'task.started',
              source: 'maskin',
              subject: `task-${i}`,
              correlation_id: correlation,
              data: {task_id: `task-${i}`, state: 'started', note},
            })
    pending.push(js.publish(subject, JSON.stringify(e)))
    if (pending.length >= 500) await Promise.all(pending.splice(0))
  }
  await Promise.all(pending)
}

export interface SeededWorkflow {
  correlationId: string
  /** Ids by role. */
  ids: {
    command: string
    taskCreated: string
    taskStarted: string
    taskSucceeded: string
    event: string
    remoteCommand: string
    remoteTaskFailed: string
    orphan: string
  }
  /** Parent of each id (null for the root). */
  parents: Record<string, string | null>
  siteA: string[]
  siteB: string[]
  /** Sequence of the remote command in site B's DV_CMD (dead-lettered). */
  remoteCommandSeq: number
}

/**
 * Site A: a command, its task lifecycle (succeeded) and an event. Site B: a command caused by site A's event,
 * its task failing, the same command delivered twice, a message whose parent is absent, and a
 * max_deliveries advisory for the command. Noise around all of it.
 */
export async function seedWorkflow(a: NatsConnection, b: NatsConnection, noise = 2000): Promise<SeededWorkflow> {
  const correlationId = randomUUID()
  await publishNoise(a, noise, correlationId)
  await publishNoise(b, noise / 2, correlationId)
  const c = {correlation_id: correlationId}

  const command = envelope({
    ...c,
    type: 'maskin.server.provision.requested',
    source: 'sentral',
    datacenter_id: 'osl1',
    tenant_id: 'acme',
    data: {server_id: 'srv-1', profile: 'small'},
  })
  const taskId = `task-${randomUUID().slice(0, 8)}`
  const created = envelope({
    ...c,
    type: 'task.created',
    source: 'maskin',
    subject: taskId,
    causation_id: command.id,
    data: {task_id: taskId, state: 'created'},
  })
  const started = envelope({
    ...c,
    type: 'task.started',
    source: 'maskin',
    subject: taskId,
    causation_id: command.id,
    data: {task_id: taskId, state: 'started'},
  })
  const event = envelope({
    ...c,
    type: 'maskin.server.provisioned',
    source: 'maskin',
    causation_id: command.id,
    subject: 'srv-1',
    data: {server_id: 'srv-1'},
  })
  const succeeded = envelope({
    ...c,
    type: 'task.succeeded',
    source: 'maskin',
    subject: taskId,
    causation_id: command.id,
    data: {task_id: taskId, state: 'succeeded'},
  })

  await publish(a, 'dv.maskin.cmd.provision', command)
  await publish(a, 'dv.task.evt.created', created)
  await publish(a, 'dv.task.evt.started', started)
  await publish(a, 'dv.maskin.evt.server.provisioned', event)
  await publish(a, 'dv.task.evt.succeeded', succeeded)

  const remoteTask = `task-${randomUUID().slice(0, 8)}`
  const remote = envelope({
    ...c,
    type: 'nett.network.apply.requested',
    source: 'plattform',
    causation_id: event.id,
    datacenter_id: 'trd1',
    data: {network: 'n-1'},
  })
  const failed = envelope({
    ...c,
    type: 'task.failed',
    source: 'nett',
    subject: remoteTask,
    causation_id: remote.id,
    data: {
      task_id: remoteTask,
      state: 'failed',
      error: {code: 'vlan-exhausted', message: 'no free VLAN', retryable: false},
    },
  })
  const orphan = envelope({
    ...c,
    type: 'nett.port.configured',
    source: 'nett',
    causation_id: randomUUID(),
    data: {port: 'p-9'},
  })

  const remoteCommandSeq = await publish(b, 'dv.nett.cmd.apply', remote)
  await publish(b, 'dv.nett.cmd.apply', remote) // delivered twice: shown once, counted
  await publish(b, 'dv.task.evt.failed', failed)
  await publish(b, 'dv.nett.evt.port.configured', orphan)
  await jetstream(b).publish(
    '$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.DV_CMD.nett',
    JSON.stringify({
      type: 'io.nats.jetstream.advisory.v1.max_deliver',
      id: randomUUID(),
      timestamp: new Date().toISOString(),
      stream: 'DV_CMD',
      consumer: 'nett',
      stream_seq: remoteCommandSeq,
      deliveries: 5,
      domain: 'trd1',
    }),
  )
  await publishNoise(a, noise / 4, correlationId)

  return {
    correlationId,
    ids: {
      command: command.id,
      taskCreated: created.id,
      taskStarted: started.id,
      taskSucceeded: succeeded.id,
      event: event.id,
      remoteCommand: remote.id,
      remoteTaskFailed: failed.id,
      orphan: orphan.id,
    },
    parents: {
      [command.id]: null,
      [created.id]: command.id,
      [started.id]: command.id,
      [event.id]: command.id,
      [succeeded.id]: command.id,
      [remote.id]: event.id,
      [failed.id]: remote.id,
      [orphan.id]: null,
    },
    siteA: [command.id, created.id, started.id, event.id, succeeded.id],
    siteB: [remote.id, failed.id, orphan.id],
    remoteCommandSeq,
  }
}

export async function connectTo(url: string): Promise<NatsConnection> {
  return connect({servers: url, maxReconnectAttempts: -1, reconnectTimeWait: 250})
}
