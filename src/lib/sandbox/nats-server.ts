import {spawn, type ChildProcess} from 'node:child_process'
import {mkdir, mkdtemp, rm, writeFile} from 'node:fs/promises'
import {createServer} from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {UserError} from '../errors.js'
import {ExitCode} from '../exit-codes.js'

/**
 * Subjects that never cross a leaf-node link, in either direction (DESIGN.md section 5): without these,
 * every site's DV_CMD would capture the other sites' commands, DV_DLQ foreign advisories, and acks
 * would reach the same-named consumer on the other site.
 */
export const LEAF_DENY = ['dv.*.cmd.>', 'dv.*.evt.>', '$JS.EVENT.>', '$JS.ACK.>']

export interface NatsServerOptions {
  /** Server name and JetStream domain (a site's datacenter_id). */
  name: string
  /** Where state lives; a fresh temporary directory when absent. */
  dir?: string
  /** Client port; a free loopback port when absent (or when 0). */
  port?: number
  /** Accept leaf-node connections (the hub). */
  leafListen?: boolean
  leafPort?: number
  /** Leaf-node remotes to dial (spokes), with the site-isolation deny rules. */
  leafRemotes?: string[]
  /** Path to the nats-server binary; `nats-server` on PATH when absent. */
  binary?: string
  /** Extra lines appended to the generated config. */
  extraConfig?: string
}

export interface NatsServerHandle {
  name: string
  url: string
  port: number
  leafPort?: number
  leafUrl?: string
  dir: string
  storeDir: string
  configFile: string
  pid: number
  /** Stops the server (SIGTERM, then SIGKILL) and keeps its state. */
  stop(): Promise<void>
  /** SIGKILL, no clean shutdown: a crash. */
  kill(): Promise<void>
  /** Starts it again on the same ports with the same state. */
  start(): Promise<void>
  /** Stops it and removes its state (only if the directory was created here). */
  dispose(): Promise<void>
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer()
    srv.unref()
    srv.on('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address()
      const port = typeof address === 'object' && address ? address.port : 0
      srv.close(() => resolve(port))
    })
  })
}

const quote = (s: string) => JSON.stringify(s)

export function serverConfig(o: {
  name: string
  port: number
  storeDir: string
  leafPort?: number
  leafRemotes?: string[]
  extraConfig?: string
}): string {
  const lines = [
    `server_name: ${quote(o.name)}`,
    `listen: "127.0.0.1:${o.port}"`,
    `jetstream {`,
    `  store_dir: ${quote(o.storeDir)}`,
    `  domain: ${quote(o.name)}`,
    `}`,
  ]
  if (o.leafPort || o.leafRemotes?.length) {
    lines.push('leafnodes {')
    if (o.leafPort) lines.push(`  listen: "127.0.0.1:${o.leafPort}"`)
    if (o.leafRemotes?.length) {
      lines.push('  remotes: [')
      for (const url of o.leafRemotes) {
        const deny = `[${LEAF_DENY.map(quote).join(', ')}]`
        lines.push(`    {url: ${quote(url)}, deny_imports: ${deny}, deny_exports: ${deny}}`)
      }
      lines.push('  ]')
    }
    lines.push('}')
  }
  if (o.extraConfig) lines.push(o.extraConfig)
  return lines.join('\n') + '\n'
}

/** Starts one `nats-server -js` on loopback and waits until it accepts clients. */
export async function startNatsServer(options: NatsServerOptions): Promise<NatsServerHandle> {
  const ownsDir = !options.dir
  const dir = options.dir ?? (await mkdtemp(join(tmpdir(), `dvctl-${options.name}-`)))
  await mkdir(dir, {recursive: true})
  const storeDir = join(dir, 'jetstream')
  const port = options.port || (await freePort())
  const leafPort = options.leafListen ? options.leafPort || (await freePort()) : undefined
  const configFile = join(dir, 'nats-server.conf')
  await writeFile(
    configFile,
    serverConfig({
      name: options.name,
      port,
      storeDir,
      leafPort,
      leafRemotes: options.leafRemotes,
      extraConfig: options.extraConfig,
    }),
  )
  const binary = options.binary ?? 'nats-server'

  let child: ChildProcess | undefined
  const handle: NatsServerHandle = {
    name: options.name,
    url: `nats://127.0.0.1:${port}`,
    port,
    leafPort,
    leafUrl: leafPort ? `nats-leaf://127.0.0.1:${leafPort}` : undefined,
    dir,
    storeDir,
    configFile,
    pid: 0,
    async start() {
      child = await spawnServer(binary, configFile, join(dir, 'nats-server.log'))
      handle.pid = child.pid ?? 0
    },
    async stop() {
      await stopChild(child, 'SIGTERM')
      child = undefined
    },
    async kill() {
      await stopChild(child, 'SIGKILL')
      child = undefined
    },
    async dispose() {
      await handle.stop()
      if (ownsDir) await rm(dir, {recursive: true, force: true})
    },
  }
  await handle.start()
  return handle
}

async function spawnServer(binary: string, configFile: string, logFile: string): Promise<ChildProcess> {
  const child = spawn(binary, ['-c', configFile], {stdio: ['ignore', 'ignore', 'pipe']})
  return new Promise((resolve, reject) => {
    let output = ''
    const timer = setTimeout(() => fail(new Error(`nats-server did not become ready within 10s:\n${output}`)), 10_000)
    const fail = (error: Error) => {
      clearTimeout(timer)
      child.kill('SIGKILL')
      reject(error)
    }
    child.on('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer)
      reject(
        error.code === 'ENOENT'
          ? new UserError(`nats-server not found (${binary})`, {
              code: 'nats-server-missing',
              exitCode: ExitCode.usage,
              hint: 'Install it (Debian: apt-get install -y nats-server) or pass --nats-server PATH.',
            })
          : error,
      )
    })
    const onEarlyExit = (code: number | null) =>
      fail(new Error(`nats-server exited with ${code} before it was ready:\n${output}`))
    child.on('exit', onEarlyExit)
    const onData = (chunk: Buffer) => {
      output += chunk.toString()
      if (!output.includes('Server is ready')) return
      clearTimeout(timer)
      child.off('exit', onEarlyExit)
      child.stderr!.off('data', onData)
      // Keep draining stderr so a chatty server never blocks on a full pipe; the start-up log is kept.
      void writeFile(logFile, output).catch(() => {})
      child.stderr!.resume()
      resolve(child)
    }
    child.stderr!.on('data', onData)
  })
}

async function stopChild(child: ChildProcess | undefined, signal: NodeJS.Signals): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  child.kill(signal)
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000)
  await exited
  clearTimeout(timer)
}
