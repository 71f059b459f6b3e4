import {randomUUID} from 'node:crypto'

import type {Consumer, JsMsg} from '@nats-io/jetstream'

import {connectSite, type SiteConnection} from '../../src/lib/nats/connection.js'
import {natsFixture, type NatsServerHandle} from '../helpers/nats.js'

/** One private site with the standard layout applied (docs/operations.md, "Layouts"). */
export interface DlqSite {
  server: NatsServerHandle
  conn: SiteConnection
  dispose(): Promise<void>
}

export async function startDlqSite(name = 'osl1'): Promise<DlqSite> {
  const server = await natsFixture({name, layout: true})
  const conn = await connectSite({name, servers: [server.url]}, {timeoutMs: 5000})
  return {
    server,
    conn,
    async dispose() {
      await conn.close()
      await server.dispose()
    },
  }
}

/** A valid command envelope (docs/contract.md). */
export function command(type: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    specversion: '1.0',
    id: randomUUID(),
    type,
    source: 'sentral',
    time: new Date().toISOString(),
    datacontenttype: 'application/json',
    tenant_id: 'acme',
    actor: 'user:test',
    correlation_id: randomUUID(),
    data: {server_id: 'srv-1', profile: 'small', hostname: 'web-1'},
    ...extra,
  }
}

/** Publishes a command as its sender would (Nats-Msg-Id = id); returns its DV_CMD sequence. */
export async function publishCommand(conn: SiteConnection, subject: string, envelope: Record<string, unknown>) {
  const js = await conn.js()
  const ack = await js.publish(subject, JSON.stringify(envelope), {msgID: String(envelope.id)})
  return ack.seq
}

/** Polls until `check` returns a value (real outcomes are asynchronous: advisories, worker events). */
export async function eventually<T>(check: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const until = Date.now() + timeoutMs
  for (;;) {
    const value = await check()
    if (value !== undefined) return value
    if (Date.now() > until) throw new Error('condition not met in time')
    await new Promise((r) => setTimeout(r, 100))
  }
}

export async function streamMessages(conn: SiteConnection, stream: string): Promise<number> {
  const jsm = await conn.jsm()
  return (await jsm.streams.info(stream)).state.messages
}

/**
 * Plays a service's worker on one of the layout's consumers: pulls batch after batch, hands each message to
 * `handle`, and stops when `done()` says so (asked before each pull). A pull whose idle heartbeats were missed
 * twice ends with "heartbeats missed" (the client gives up a fetch that way, and a loaded machine can stall this
 * process past two heartbeats of a short pull); a worker pulls again then, and so does this one. Any other error
 * is thrown.
 */
export async function work(
  consumer: Consumer,
  handle: (m: JsMsg) => unknown,
  done: () => boolean,
  {batch = 100, expires = 2000}: {batch?: number; expires?: number} = {},
): Promise<void> {
  while (!done()) {
    try {
      for await (const m of await consumer.fetch({max_messages: batch, expires})) await handle(m)
    } catch (error) {
      if (!(error instanceof Error && error.message === 'heartbeats missed')) throw error
    }
  }
}

/** Plays the layout's worker that gives up on every command: terminates `count` of them (one advisory each). */
export async function terminate(consumer: Consumer, count: number, batch = 100): Promise<void> {
  let termed = 0
  await work(
    consumer,
    (m) => {
      m.term()
      termed++
    },
    () => termed >= count,
    {batch},
  )
}
