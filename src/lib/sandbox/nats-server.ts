import {execFile, spawn, type ChildProcess} from 'node:child_process'
import {constants} from 'node:fs'
import {access, mkdir, mkdtemp, open, readFile, rm, stat, writeFile} from 'node:fs/promises'
import {createServer} from 'node:net'
import {tmpdir} from 'node:os'
import {delimiter, join, resolve} from 'node:path'

import {currentEnv} from '../context.js'
import {UserError} from '../errors.js'
import {ExitCode} from '../exit-codes.js'

/**
 * Subjects that never cross a leaf-node link, in either direction (docs/operations.md, layouts): without these,
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
  /** False: a server without JetStream (core NATS only), as a site misconfigured so would be. */
  jetstream?: boolean
  /** How the ports not given are chosen; freePort when absent (tests hand out a taken one). */
  choosePort?: () => Promise<number>
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
  // A port the kernel hands out for `listen(0)` lies in the ephemeral range, which outgoing connections use
  // for their local ports too: between choosing it and the server binding it, any client (another test
  // worker's, or the server's own peers) may take it, and the server dies with "address in use". Ports below
  // that range (Linux: 32768-60999) are never taken that way; a random one that is free now is used.
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = LOW_PORTS.from + Math.floor(Math.random() * (LOW_PORTS.to - LOW_PORTS.from))
    if (await canListen(port)) return port
  }
  return listenOn(0)
}

/** Where freePort looks first: below the usual ephemeral range. */
const LOW_PORTS = {from: 20_000, to: 32_000}

/**
 * How many times a server is started on fresh ports when one it was given was taken meanwhile. freePort only
 * knows that a port is free now: until nats-server binds it, any other process (a test file starting its own
 * servers in parallel) may listen on it first.
 */
export const PORT_ATTEMPTS = 5

/**
 * A nats-server that exited while starting because a port it was to listen on is in use. Every listener
 * (client, route, leaf node, monitoring) reports that in its fatal log line with Go's own error text,
 * `listen tcp <host>:<port>: bind: address already in use`; `port` is the one named there.
 */
export class PortInUseError extends UserError {
  constructor(
    message: string,
    readonly port: number,
    hint: string,
  ) {
    super(message, {code: 'nats-server-failed', exitCode: ExitCode.unavailable, hint})
    this.name = 'PortInUseError'
  }
}

/** The port of the fatal "address already in use" in a server's start-up output, if that is why it exited. */
export function portInUse(output: string): number | undefined {
  const match = /\[FTL\].*listen tcp \S*:(\d+): bind: address already in use/.exec(output)
  return match ? Number(match[1]) : undefined
}

/**
 * nats-server logs "Server is ready" once its client port listens, and opens its route port only after
 * that: a cluster member whose route port is taken logs "ready" and exits a moment later. So a member has
 * started only once it also listens for routes.
 */
function startedUp(output: string, clustered = false): boolean {
  return output.includes('Server is ready') && (!clustered || output.includes('Listening for route connections'))
}

async function canListen(port: number): Promise<boolean> {
  return listenOn(port).then(
    () => true,
    () => false,
  )
}

/** Listens on `port` (0: any) on loopback, closes again, and resolves with the port it had. */
function listenOn(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer()
    srv.unref()
    srv.on('error', reject)
    srv.listen(port, '127.0.0.1', () => {
      const address = srv.address()
      const bound = typeof address === 'object' && address ? address.port : 0
      srv.close(() => resolve(bound))
    })
  })
}

const quote = (s: string) => JSON.stringify(s)

/** A node's place in its site's JetStream cluster: the cluster (named after the site) and its peers' routes. */
export interface ClusterMembership {
  name: string
  port: number
  /** `nats-route://` URLs of the other nodes. */
  routes: string[]
}

/**
 * A leaf-node remote: one URL, or several (the hub cluster's nodes; the node dials whichever answers).
 * Every remote carries the site-isolation deny rules.
 */
export type LeafRemote = string | string[]

export function serverConfig(o: {
  name: string
  /** JetStream domain; the server name when absent (single-node sites are named after their domain). */
  domain?: string
  port: number
  storeDir: string
  leafPort?: number
  leafRemotes?: LeafRemote[]
  cluster?: ClusterMembership
  extraConfig?: string
  jetstream?: boolean
}): string {
  const lines = [`server_name: ${quote(o.name)}`, `listen: "127.0.0.1:${o.port}"`]
  if (o.jetstream !== false) {
    lines.push(`jetstream {`, `  store_dir: ${quote(o.storeDir)}`, `  domain: ${quote(o.domain ?? o.name)}`, `}`)
  }
  if (o.cluster) {
    lines.push(
      'cluster {',
      `  name: ${quote(o.cluster.name)}`,
      `  listen: "127.0.0.1:${o.cluster.port}"`,
      `  routes: [${o.cluster.routes.map(quote).join(', ')}]`,
      '}',
    )
  }
  if (o.leafPort || o.leafRemotes?.length) {
    lines.push('leafnodes {')
    if (o.leafPort) lines.push(`  listen: "127.0.0.1:${o.leafPort}"`)
    if (o.leafRemotes?.length) {
      lines.push('  remotes: [')
      const deny = `[${LEAF_DENY.map(quote).join(', ')}]`
      for (const remote of o.leafRemotes) {
        const urls = typeof remote === 'string' ? `url: ${quote(remote)}` : `urls: [${remote.map(quote).join(', ')}]`
        lines.push(`    {${urls}, deny_imports: ${deny}, deny_exports: ${deny}}`)
      }
      lines.push('  ]')
    }
    lines.push('}')
  }
  if (o.extraConfig) lines.push(o.extraConfig)
  return lines.join('\n') + '\n'
}

/**
 * Starts one `nats-server -js` on loopback and waits until it accepts clients. When a port chosen here was
 * taken before the server bound it, the server is started again on fresh ones (PORT_ATTEMPTS in all);
 * a port the caller gave is not replaced.
 */
export async function startNatsServer(options: NatsServerOptions): Promise<NatsServerHandle> {
  const ownsDir = !options.dir
  const dir = options.dir ?? (await mkdtemp(join(tmpdir(), `dvctl-${options.name}-`)))
  await mkdir(dir, {recursive: true})
  const choosePort = options.choosePort ?? freePort
  for (let attempt = 1; ; attempt++) {
    const port = options.port || (await choosePort())
    const leafPort = options.leafListen ? options.leafPort || (await choosePort()) : undefined
    const handle = await natsServerHandle(options, {dir, ownsDir, port, leafPort})
    try {
      await handle.start()
      return handle
    } catch (error) {
      const chosen = [options.port ? 0 : port, options.leafPort ? 0 : leafPort]
      if (error instanceof PortInUseError && chosen.includes(error.port) && attempt < PORT_ATTEMPTS) continue
      throw error
    }
  }
}

/** Writes the server's config (its ports chosen) and returns its handle, not started yet. */
async function natsServerHandle(
  options: NatsServerOptions,
  o: {dir: string; ownsDir: boolean; port: number; leafPort: number | undefined},
): Promise<NatsServerHandle> {
  const {dir, port, leafPort} = o
  const storeDir = join(dir, 'jetstream')
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
      jetstream: options.jetstream,
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
      if (o.ownsDir) await rm(dir, {recursive: true, force: true})
    },
  }
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
    const onEarlyExit = (code: number | null) => {
      const message = `nats-server exited with ${code} before it was ready:\n${output}`
      const taken = portInUse(output)
      fail(taken ? new PortInUseError(message, taken, 'Start it again on other ports.') : new Error(message))
    }
    // 'close', not 'exit': only then has all of its output been read (the fatal line names the taken port).
    child.on('close', onEarlyExit)
    const onData = (chunk: Buffer) => {
      output += chunk.toString()
      if (!startedUp(output)) return
      clearTimeout(timer)
      child.off('close', onEarlyExit)
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

// ---------------------------------------------------------------------------------------------------
// Detached servers (`dvctl sandbox up`): they outlive the CLI process, log to a file, and are found
// again by pid (recorded in the sandbox state file) and stopped only when that pid is still the same
// nats-server, i.e. its command line names the same config file.
// ---------------------------------------------------------------------------------------------------

/** A detached server as recorded in the sandbox state file. */
export interface DetachedServer {
  name: string
  url: string
  port: number
  leaf_port?: number
  leaf_url?: string
  cluster_port?: number
  dir: string
  store_dir: string
  config_file: string
  log_file: string
  pid: number
}

const missingBinary = (binary: string) =>
  new UserError(`nats-server not found (${binary})`, {
    code: 'nats-server-missing',
    exitCode: ExitCode.usage,
    hint: 'Install it (Debian/Ubuntu: apt-get install -y nats-server; macOS: brew install nats-server; or go install github.com/nats-io/nats-server/v2@latest) or pass --nats-server PATH.',
  })

/** The nats-server binary to run: `binary` as given (a path, or a name looked up on PATH), else `nats-server`. */
export async function findNatsServer(binary = 'nats-server', env: NodeJS.ProcessEnv = currentEnv()): Promise<string> {
  const candidates = binary.includes('/')
    ? [resolve(binary)]
    : (env.PATH ?? '')
        .split(delimiter)
        .filter(Boolean)
        .map((dir) => join(dir, binary))
  for (const candidate of candidates) {
    try {
      await access(candidate, constants.X_OK)
      if ((await stat(candidate)).isFile()) return candidate
    } catch {
      // not here; try the next PATH entry
    }
  }
  throw missingBinary(binary)
}

/**
 * Writes the config of a detached server into `dir` (ports chosen now unless given) without starting it.
 * `port`/`leafPort` are given for cluster nodes, whose ports their peers must know before any of them starts.
 */
export async function prepareDetachedServer(options: {
  name: string
  dir: string
  domain?: string
  port?: number
  leafListen?: boolean
  leafPort?: number
  leafRemotes?: LeafRemote[]
  cluster?: ClusterMembership
  /** How the ports not given are chosen; freePort when absent. */
  choosePort?: () => Promise<number>
}): Promise<DetachedServer> {
  await mkdir(options.dir, {recursive: true})
  const choosePort = options.choosePort ?? freePort
  const port = options.port || (await choosePort())
  const leafPort = options.leafListen ? options.leafPort || (await choosePort()) : undefined
  const storeDir = join(options.dir, 'jetstream')
  const configFile = join(options.dir, 'nats-server.conf')
  await writeFile(
    configFile,
    serverConfig({
      name: options.name,
      domain: options.domain,
      port,
      storeDir,
      leafPort,
      leafRemotes: options.leafRemotes,
      cluster: options.cluster,
    }),
  )
  return {
    name: options.name,
    url: `nats://127.0.0.1:${port}`,
    port,
    ...(leafPort ? {leaf_port: leafPort, leaf_url: `nats-leaf://127.0.0.1:${leafPort}`} : {}),
    ...(options.cluster ? {cluster_port: options.cluster.port} : {}),
    dir: options.dir,
    store_dir: storeDir,
    config_file: configFile,
    log_file: join(options.dir, 'nats-server.log'),
    pid: 0,
  }
}

/**
 * Starts a prepared server detached from this process (its own process group, output appended to its
 * log file) and waits until it logs that it is ready (a cluster member: and listens for routes). Returns its
 * pid. Throws a PortInUseError when it exited because one of its ports is taken.
 */
export async function startDetached(server: DetachedServer, binary: string, readyTimeoutMs = 10_000): Promise<number> {
  const from = await fileSize(server.log_file)
  const log = await open(server.log_file, 'a')
  let child: ChildProcess
  try {
    child = spawn(binary, ['-c', server.config_file], {detached: true, stdio: ['ignore', log.fd, log.fd]})
  } finally {
    await log.close()
  }
  const exited = new Promise<string>((resolve) => {
    child.once('exit', (code, signal) => resolve(`exited with ${signal ?? code}`))
    child.once('error', (error: NodeJS.ErrnoException) => resolve(error.code === 'ENOENT' ? 'ENOENT' : error.message))
  })
  child.unref()
  const deadline = Date.now() + readyTimeoutMs
  for (;;) {
    const early = await Promise.race([exited, sleep(50).then(() => undefined)])
    if (early === 'ENOENT') throw missingBinary(binary)
    const output = await readFrom(server.log_file, from)
    if (early !== undefined) {
      const message = `nats-server for ${server.name} ${early} before it was ready: ${lastLines(output)}`
      const hint = `See ${server.log_file}; a port may be taken (dvctl sandbox down, then up again).`
      const taken = portInUse(output)
      if (taken) throw new PortInUseError(message, taken, hint)
      throw new UserError(message, {code: 'nats-server-failed', exitCode: ExitCode.unavailable, hint})
    }
    if (startedUp(output, server.cluster_port !== undefined)) return child.pid ?? 0
    if (Date.now() > deadline) {
      child.kill('SIGKILL')
      throw new UserError(`nats-server for ${server.name} was not ready within ${readyTimeoutMs / 1000}s`, {
        code: 'nats-server-failed',
        exitCode: ExitCode.unavailable,
        hint: `See ${server.log_file}.`,
      })
    }
  }
}

/** Waits until `text` appears in the log after `fromByte`; false on timeout. */
export async function waitForLog(logFile: string, text: string, timeoutMs: number, fromByte = 0): Promise<boolean> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if ((await readFrom(logFile, fromByte)).includes(text)) return true
    await sleep(50)
  }
  return false
}

/**
 * True when `pid` is a live (not zombie) nats-server started with `configFile`: a recycled pid or a
 * server someone else started is never ours.
 */
export async function isOurNatsServer(pid: number, configFile: string): Promise<boolean> {
  if (!pid || !processAlive(pid)) return false
  const args = await processArgs(pid)
  return args !== undefined && args.includes('nats-server') && args.includes(configFile)
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. Only for our own pids. */
export async function stopDetached(server: DetachedServer, graceMs = 5000): Promise<boolean> {
  if (!(await isOurNatsServer(server.pid, server.config_file))) return false
  await terminate(server.pid, graceMs)
  return true
}

/** True when `pid` is a live (not zombie) process whose command line holds each of `marks`. */
export async function isOurProcess(pid: number, marks: string[]): Promise<boolean> {
  if (!pid || !processAlive(pid)) return false
  const args = await processArgs(pid)
  return args !== undefined && marks.every((m) => args.includes(m))
}

/** SIGTERM, then SIGKILL after `graceMs`, for a process of ours (isOurProcess); false when it was not running. */
export async function stopProcess(pid: number, marks: string[], graceMs = 5000): Promise<boolean> {
  if (!(await isOurProcess(pid, marks))) return false
  await terminate(pid, graceMs)
  return true
}

/**
 * SIGTERM, then SIGKILL after `graceMs`. A process that exits on its own between the checks and a signal (a server
 * that took the whole grace to shut down) is what was asked for, not an error.
 */
async function terminate(pid: number, graceMs: number): Promise<void> {
  signal(pid, 'SIGTERM')
  if (await waitGone(pid, graceMs)) return
  signal(pid, 'SIGKILL')
  await waitGone(pid, 2000)
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
  return true
}

/** The process's command line, or undefined when it is gone or a zombie. */
async function processArgs(pid: number): Promise<string | undefined> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8')
    if (/\) Z /.test(stat)) return undefined
    return (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0').join(' ')
  } catch {
    // No /proc (macOS): ask ps.
    return new Promise((resolvePs) => {
      execFile('ps', ['-o', 'stat=,args=', '-p', String(pid)], (error, stdout) => {
        const line = stdout?.trim()
        resolvePs(error || !line || line.startsWith('Z') ? undefined : line)
      })
    })
  }
}

async function waitGone(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (!processAlive(pid) || (await processArgs(pid)) === undefined) return true
    await sleep(25)
  }
  return false
}

async function fileSize(path: string): Promise<number> {
  try {
    return (await stat(path)).size
  } catch {
    return 0
  }
}

async function readFrom(path: string, fromByte: number): Promise<string> {
  try {
    const text = await readFile(path)
    return text.subarray(fromByte).toString()
  } catch {
    return ''
  }
}

const lastLines = (text: string) => text.trim().split('\n').slice(-3).join(' | ')
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
