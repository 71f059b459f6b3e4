import {startNatsServer, type NatsServerHandle, type NatsServerOptions} from '../../src/lib/sandbox/nats-server.js'

/** A private `nats-server -js` for one test file: free loopback port, temporary store, removed afterwards. */
export async function natsFixture(options: Partial<NatsServerOptions> = {}): Promise<NatsServerHandle> {
  return startNatsServer({name: options.name ?? 'test', ...options})
}

export type {NatsServerHandle}
