import type {Service} from '../../contract/services.js'
import {STREAMS} from '../../layout/names.js'
import type {SiteConnection} from '../../nats/connection.js'

export interface WorkerConsumerOptions {
  service: Service
  /** Durable name; default `<service>-sandbox`, so the layout's own `<service>` consumer is left alone. */
  name?: string
  /** Deliveries before the server gives up and emits MAX_DELIVERIES (default 5, as in the layout). */
  maxDeliver?: number
  /** Redelivery after a missing ack (default 2s). */
  ackWaitMs?: number
  /** Redelivery delays; default none, so a transient failure reaches max_deliver in well under a second. */
  backoffMs?: number[]
}

/**
 * Creates (or updates) a durable consumer on DV_CMD shaped like the layout's service consumer but with
 * timings a test or demo can wait for: the layout's backoff (1s, 5s, 30s, 2m) makes five deliveries take
 * minutes. Pass its name to `startWorker({consumer})`. Returns the durable name.
 */
export async function createWorkerConsumer(conn: SiteConnection, options: WorkerConsumerOptions): Promise<string> {
  const {AckPolicy, DeliverPolicy} = await import('@nats-io/jetstream')
  const jsm = await conn.jsm()
  const name = options.name ?? `${options.service}-sandbox`
  const nanos = (ms: number) => ms * 1_000_000
  const config = {
    durable_name: name,
    filter_subject: `dv.${options.service}.cmd.>`,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    max_deliver: options.maxDeliver ?? 5,
    ack_wait: nanos(options.ackWaitMs ?? 2000),
    ...(options.backoffMs?.length ? {backoff: options.backoffMs.map(nanos)} : {}),
  }
  try {
    await jsm.consumers.add(STREAMS.cmd, config)
  } catch (error) {
    // From nats-server 2.10 a create of an existing consumer with another config is refused (2.9 updated it).
    if ((error as {code?: unknown}).code !== CONSUMER_ALREADY_EXISTS) throw error
    const {durable_name: _name, ...changes} = config
    await jsm.consumers.update(STREAMS.cmd, name, changes)
  }
  return name
}

/** JetStream API error code of a create whose consumer exists with a different config (2.10+). */
const CONSUMER_ALREADY_EXISTS = 10148
