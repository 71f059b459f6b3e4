import {startNatsServer, type NatsServerHandle, type NatsServerOptions} from '../../src/lib/sandbox/nats-server.js'

export interface NatsFixtureOptions extends Partial<NatsServerOptions> {
  /** Apply the built-in `dataverket` layout (DV_CMD, DV_EVT, DV_TASK, DV_DLQ, consumers, dv_dlq_ledger, dv_dlq_triage). */
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

export interface SandboxFixture {
  /** osl1 (leaf-node hub) and trd1 (leaf) by default, each its own JetStream domain, layout applied. */
  sites: import('../../src/lib/sandbox/sandbox.js').SandboxSite[]
  /** A dvctl config naming the sites: pass it as DVCTL_CONFIG to runCli. */
  config: string
  url(site: string): string
  /** `sandbox up` again on the same directory: restarts any node that is not running (same ports, same store). */
  restart(): Promise<void>
  /** Stops the servers (checked by pid) and removes their state. */
  dispose(): Promise<void>
}

/**
 * A multi-site sandbox for one test file, built by the same code as `dvctl sandbox up` (detached
 * servers, leaf-node isolation rules, dataverket layout) in a temporary directory.
 */
export async function sandboxFixture(
  options: {sites?: string[]; layout?: boolean; cluster?: number; capture?: boolean} = {},
): Promise<SandboxFixture> {
  const {mkdtemp, rm} = await import('node:fs/promises')
  const {tmpdir} = await import('node:os')
  const {join} = await import('node:path')
  const {sandboxDown, sandboxUp} = await import('../../src/lib/sandbox/sandbox.js')
  const root = await mkdtemp(join(tmpdir(), 'dvctl-sandbox-'))
  const dir = join(root, 'sandbox')
  const dispose = async () => {
    await sandboxDown({dir})
    await rm(root, {recursive: true, force: true})
  }
  const up = () =>
    sandboxUp({
      sites: options.sites,
      dir,
      layout: options.layout,
      cluster: options.cluster,
      // A background `dlq capture` per site only where a test asks for it: each is a node process.
      capture: options.capture ?? false,
      // A cluster's first layout waits for its leader elections: give each request room on a loaded machine.
      ...(options.cluster ? {timeoutMs: 15_000} : {}),
      env: {...process.env, DVCTL_CONFIG: join(root, 'unused.yaml')},
    })
  try {
    const result = await up()
    return {
      sites: result.sites,
      config: result.config,
      url: (site) => result.sites.find((s) => s.name === site)?.url ?? '',
      async restart() {
        const again = await up()
        for (const s of again.sites)
          Object.assign(
            result.sites.find((x) => x.name === s.name)!,
            s,
          )
      },
      dispose,
    }
  } catch (error) {
    await dispose()
    throw error
  }
}
