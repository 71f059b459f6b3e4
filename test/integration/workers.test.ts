import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {newEnvelope, validateEnvelope, type Envelope} from '../../src/lib/contract/envelope.js'
import {STREAMS} from '../../src/lib/layout/names.js'
import {connectSite, type SiteConnection} from '../../src/lib/nats/connection.js'
import {createWorkerConsumer, startWorker, type Worker} from '../../src/lib/sandbox/workers/index.js'
import {natsFixture, type NatsServerHandle} from '../helpers/nats.js'

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Stored = {subject: string; body: any}

/** Every message of a stream, decoded, in stream order. */
async function streamMessages(conn: SiteConnection, stream: string): Promise<Stored[]> {
  const jsm = await conn.jsm()
  const last = (await jsm.streams.info(stream)).state.last_seq
  const out: Stored[] = []
  for (let seq = 1; seq <= last; seq++) {
    const m = await jsm.streams.getMessage(stream, {seq}).catch(() => null)
    if (m) out.push({subject: m.subject, body: m.json()})
  }
  return out
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, ms = 10_000): Promise<T> {
  const deadline = Date.now() + ms
  while (Date.now() < deadline) {
    const value = await probe()
    if (value !== undefined) return value
    await new Promise((r) => setTimeout(r, 50))
  }
  throw new Error(`timed out waiting for ${what}`)
}

function command(service: string, action: string, data: Record<string, unknown>, extra: Partial<Envelope> = {}) {
  return newEnvelope({
    type: `${service}.${action}.requested`,
    source: 'sentral',
    actor: 'test',
    correlation_id: `corr-${Math.random().toString(36).slice(2)}`,
    tenant_id: 't1',
    data,
    ...extra,
  })
}

async function send(conn: SiteConnection, subject: string, envelope: Envelope) {
  const js = await conn.js()
  return js.publish(subject, JSON.stringify(envelope), {msgID: envelope.id})
}

describe('simulated workers', () => {
  let server: NatsServerHandle
  let conn: SiteConnection
  const workers: Worker[] = []

  beforeAll(async () => {
    server = await natsFixture({name: 'osl1', layout: true})
    conn = await connectSite({name: 'osl1', servers: [server.url]}, {timeoutMs: 5000})
  })
  afterAll(async () => {
    await Promise.all(workers.map((w) => w.stop()))
    await conn?.close()
    await server?.dispose()
  })

  it('succeed: emits the full lifecycle and the domain event, with correlation and causation, then acks', async () => {
    const name = await createWorkerConsumer(conn, {service: 'maskin'})
    const worker = await startWorker(conn, {service: 'maskin', consumer: name, progressSteps: 2})
    workers.push(worker)
    const cmd = command(
      'maskin',
      'provision',
      {server_id: 'srv-1', profile: 'small'},
      {
        type: 'maskin.server.provision.requested',
      },
    )
    await send(conn, 'dv.maskin.cmd.provision', cmd)

    const tasks = await until('succeeded', async () => {
      const all = (await streamMessages(conn, STREAMS.task)).filter((m) => m.body.correlation_id === cmd.correlation_id)
      return all.some((m) => m.subject === 'dv.task.evt.succeeded') ? all : undefined
    })
    expect(tasks.map((m) => m.subject.split('.').at(-1))).toEqual([
      'created',
      'queued',
      'started',
      'progress',
      'progress',
      'succeeded',
    ])
    const taskId = tasks[0].body.data.task_id
    for (const m of tasks) {
      expect(validateEnvelope(m.body, {subject: m.subject}).problems).toEqual([])
      expect(m.body).toMatchObject({
        causation_id: cmd.id,
        correlation_id: cmd.correlation_id,
        subject: taskId,
        tenant_id: 't1',
      })
    }
    expect(tasks[3].body.data.progress).toEqual({percent: 33, message: 'provision: step 1 of 2'})

    const events = (await streamMessages(conn, STREAMS.evt)).filter((m) => m.body.correlation_id === cmd.correlation_id)
    expect(events.map((m) => m.subject)).toEqual(['dv.maskin.evt.server.provisioned'])
    expect(validateEnvelope(events[0].body, {subject: events[0].subject}).problems).toEqual([])
    expect(events[0].body).toMatchObject({
      type: 'maskin.server.provisioned',
      causation_id: cmd.id,
      data: {server_id: 'srv-1'},
    })

    const jsm = await conn.jsm()
    await until('ack', async () =>
      (await jsm.consumers.info(STREAMS.cmd, name)).num_ack_pending === 0 ? true : undefined,
    )
  })

  it('fail: emits failed with a non-retryable error and terminates the command (a dead letter)', async () => {
    const name = await createWorkerConsumer(conn, {service: 'nett'})
    workers.push(await startWorker(conn, {service: 'nett', consumer: name, behaviour: 'fail'}))
    const cmd = command('nett', 'apply', {network_id: 'net-1'})
    const ack = await send(conn, 'dv.nett.cmd.apply', cmd)

    const failed = await until('failed', async () =>
      (await streamMessages(conn, STREAMS.task)).find(
        (m) => m.subject === 'dv.task.evt.failed' && m.body.correlation_id === cmd.correlation_id,
      ),
    )
    expect(failed.body.causation_id).toBe(cmd.id)
    expect(failed.body.data.error).toEqual({
      code: 'worker-failed',
      message: 'apply failed permanently',
      retryable: false,
    })

    const advisory = await until('terminated advisory', async () =>
      (await streamMessages(conn, STREAMS.dlq)).find((m) => m.body.stream_seq === ack.seq && m.body.consumer === name),
    )
    expect(advisory.subject).toContain('MSG_TERMINATED')
  })

  it('transient: naks until max_deliver is exhausted, reports failed (retryable) once, and the server dead-letters it', async () => {
    const name = await createWorkerConsumer(conn, {service: 'plattform', maxDeliver: 3})
    const deliveries: number[] = []
    workers.push(
      await startWorker(conn, {
        service: 'plattform',
        consumer: name,
        behaviour: 'transient',
        onHandled: (c) => deliveries.push(c.delivery),
      }),
    )
    const cmd = command('plattform', 'create', {cluster_id: 'c-1'})
    const ack = await send(conn, 'dv.plattform.cmd.create', cmd)

    const advisory = await until('max deliveries advisory', async () =>
      (await streamMessages(conn, STREAMS.dlq)).find((m) => m.body.stream_seq === ack.seq && m.body.consumer === name),
    )
    expect(advisory.subject).toContain('MAX_DELIVERIES')
    expect(deliveries).toEqual([1, 2, 3])
    const taskEvents = (await streamMessages(conn, STREAMS.task)).filter(
      (m) => m.body.correlation_id === cmd.correlation_id,
    )
    // Redeliveries re-emit the same ids, so the duplicate window keeps one of each.
    expect(taskEvents.map((m) => m.subject.split('.').at(-1))).toEqual(['created', 'queued', 'started', 'failed'])
    expect(taskEvents[3].body.data.error).toMatchObject({code: 'retries-exhausted', retryable: true})
  })

  it('a function behaviour decides per command', async () => {
    const name = await createWorkerConsumer(conn, {service: 'objekt'})
    workers.push(
      await startWorker(conn, {
        service: 'objekt',
        consumer: name,
        progressSteps: 0,
        behaviour: (c) =>
          c.envelope.tenant_id === 'poison' ? {fail: {code: 'bad-tenant', message: 'no such tenant'}} : 'succeed',
      }),
    )
    const good = command('objekt', 'create', {bucket_id: 'b1'})
    const bad = command('objekt', 'create', {bucket_id: 'b2'}, {tenant_id: 'poison'})
    await send(conn, 'dv.objekt.cmd.create', good)
    await send(conn, 'dv.objekt.cmd.create', bad)
    const final = await until('both final', async () => {
      const all = await streamMessages(conn, STREAMS.task)
      const end = (c: Envelope) =>
        all.find((m) => m.body.correlation_id === c.correlation_id && /succeeded|failed/.test(m.subject))
      const [g, b] = [end(good), end(bad)]
      return g && b ? {g, b} : undefined
    })
    expect(final.g.subject).toBe('dv.task.evt.succeeded')
    expect(final.b.body.data.error).toEqual({code: 'bad-tenant', message: 'no such tenant', retryable: false})
  })
})
