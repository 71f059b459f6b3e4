import {startNatsServer, type NatsServerHandle, type NatsServerOptions} from '../../src/lib/sandbox/nats-server.js'

export interface NatsFixtureOptions extends Partial<NatsServerOptions> {
  /** Apply the built-in `dataverket` layout (DV_CMD, DV_EVT, DV_TASK, DV_DLQ, consumers, dv_dlq_ledger). */
  layout?: boolean
}

/** A private `nats-server -js` for one test file: free loopback port, temporary store, removed afterwards. */
export async function natsFixture(options: NatsFixtureOptions = {}): Promise<NatsServerHandle> {
  const {layout, ...serverOptions} = options
  const server = await startNatsServer({name: serverOptions.name ?? 'test', ...serverOptions})
  if (layout) {
    try {
      await applyStandardLayout(server)
    } catch (error) {
      await server.dispose()
      throw error
    }
  }
  return server
}

async function applyStandardLayout(server: NatsServerHandle): Promise<void> {
  const {connectSite} = await import('../../src/lib/nats/connection.js')
  const {ensureLayout} = await import('../../src/lib/layout/apply.js')
  const conn = await connectSite({name: server.name, servers: [server.url]}, {timeoutMs: 5000})
  try {
    await ensureLayout(conn)
  } finally {
    await conn.close()
  }
}

export type {NatsServerHandle}
