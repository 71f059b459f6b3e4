import {mkdir, readdir, readFile, rename, rm, rmdir, writeFile} from 'node:fs/promises'
import {homedir} from 'node:os'
import {join, resolve} from 'node:path'

import {z} from 'zod'

import {currentEnv} from '../context.js'
import {SITE_NAME, saveConfig, updateConfig, type DvctlConfig} from '../config/file.js'
import {refused, usageError, UserError} from '../errors.js'
import {ExitCode} from '../exit-codes.js'
import {dataverketLayout} from '../layout/dataverket.js'
import {isCaptureRunning, startCaptureProcess, stopCaptureProcess} from './capture-process.js'
import {
  findNatsServer,
  freePort,
  isOurNatsServer,
  PORT_ATTEMPTS,
  PortInUseError,
  prepareDetachedServer,
  startDetached,
  stopDetached,
  waitForLog,
  type DetachedServer,
} from './nats-server.js'

/**
 * A local multi-site sandbox (README, sandbox): one detached nats-server per site on free loopback
 * ports, or with `cluster: 3` a three-node JetStream cluster per site (section 10a), each site its own
 * JetStream domain; the first site is the leaf-node hub, the others dial it with the site-isolation deny
 * rules (section 5): every node of a leaf site dials the hub, and every hub node accepts leaf
 * connections. State lives in `<dir>/sandbox.json` so that `status` and `down` find the servers again
 * after the CLI has exited.
 */

export const DEFAULT_SANDBOX_SITES = ['osl1', 'trd1']
const STATE_FILE = 'sandbox.json'
const CONFIG_FILE = 'config.yaml'

/** One nats-server of a site: a single-node site has one, a cluster one per member. */
export const SandboxNode = z.object({
  name: z.string(),
  url: z.string(),
  pid: z.number(),
  store_dir: z.string(),
  running: z.boolean(),
  log_file: z.string(),
})
export type SandboxNode = z.infer<typeof SandboxNode>

/**
 * One site of the sandbox as printed by `sandbox up|status` (docs/architecture.md, JSON results). `url`, `pid`,
 * `store_dir` and `log_file` are those of the site's first node; `running` is true when all nodes run.
 */
export const SandboxSite = z.object({
  name: z.string(),
  url: z.string(),
  js_domain: z.string(),
  pid: z.number(),
  store_dir: z.string(),
  role: z.enum(['hub', 'leaf']),
  running: z.boolean(),
  log_file: z.string(),
  /** Every URL of the site, as written to the sandbox config. */
  servers: z.array(z.string()),
  nodes: z.array(SandboxNode),
  /** The site's `dvctl dlq capture` process (docs/operations.md); null when the sandbox runs none. */
  capture: z.object({pid: z.number(), running: z.boolean(), log_file: z.string()}).nullable(),
})
export type SandboxSite = z.infer<typeof SandboxSite>

export const SandboxResult = z.object({
  sites: z.array(SandboxSite),
  /** The sandbox's own config file: `DVCTL_CONFIG=<config> dvctl ...`. */
  config: z.string(),
  dir: z.string(),
  /** The user's config the sites were also written to (`sandbox up --register`), else null. */
  registered_in: z.string().nullable(),
  /** `up`: which sites were started now (the others were already running). */
  started: z.array(z.string()).optional(),
  warnings: z.array(z.string()).optional(),
})
export type SandboxResult = z.infer<typeof SandboxResult>

export const SandboxDownResult = z.object({
  dir: z.string(),
  stopped: z.array(z.object({name: z.string(), pid: z.number()})),
  /** Pids recorded in the state that were not (or no longer) our nats-server: left alone. */
  not_running: z.array(z.object({name: z.string(), pid: z.number()})),
  removed: z.boolean(),
  unregistered_from: z.string().nullable(),
})
export type SandboxDownResult = z.infer<typeof SandboxDownResult>

const StateNode = z.object({
  name: z.string(),
  url: z.string(),
  port: z.number(),
  leaf_port: z.number().optional(),
  leaf_url: z.string().optional(),
  cluster_port: z.number().optional(),
  dir: z.string(),
  store_dir: z.string(),
  config_file: z.string(),
  log_file: z.string(),
  pid: z.number(),
})

const SandboxState = z.object({
  version: z.literal(1),
  created_at: z.string(),
  nats_server: z.string(),
  registered_in: z.string().nullable(),
  /** `registered_in` did not exist before the sandbox wrote its sites there: `down` removes it again if left empty. */
  created_config: z.boolean().optional(),
  sites: z.array(
    StateNode.extend({
      /** The site's name (and JetStream domain); its first node's fields sit beside it. */
      role: z.enum(['hub', 'leaf']),
      /** The server name of the first node of a clustered site (`<site>-n1`); absent for a single node. */
      node_name: z.string().optional(),
      /** The other members of a clustered site (absent for a single node). */
      peers: z.array(StateNode).optional(),
      /** The site's `dlq capture` process, once started. */
      capture: z.object({pid: z.number(), log_file: z.string()}).optional(),
    }),
  ),
})
type SandboxState = z.infer<typeof SandboxState>
type StateSite = SandboxState['sites'][number]
type StateNode = z.infer<typeof StateNode>

/**
 * A site's nodes, the site entry itself first (it holds the first node's fields, so that a state file
 * written before clusters still reads): callers update `pid` on these objects.
 */
const nodesOf = (site: StateSite): StateNode[] => [site, ...(site.peers ?? [])]
/** Cluster members are named `<site>-n<i>` on the server; a single-node site's server is named after the site. */
const serverNameOf = (site: StateSite, node: StateNode): string =>
  node === site ? (site.node_name ?? site.name) : node.name
const clusterSizeOf = (site: StateSite): number => 1 + (site.peers?.length ?? 0)

/** `$XDG_STATE_HOME/dvctl/sandbox`, else `~/.local/state/dvctl/sandbox`. */
export function defaultSandboxDir(env: NodeJS.ProcessEnv = currentEnv()): string {
  const base = env.XDG_STATE_HOME || join(env.HOME || homedir(), '.local', 'state')
  return join(base, 'dvctl', 'sandbox')
}

export interface SandboxUpOptions {
  sites?: string[]
  dir?: string
  /** nats-server binary (path or name on PATH). */
  binary?: string
  /** Also write the sites into the user's config (DVCTL_CONFIG / XDG_CONFIG_HOME / ~/.config). */
  register?: boolean
  /** Apply the built-in `dataverket` layout on each site (default true). */
  layout?: boolean
  /** Bound on connecting to each site for the layout. */
  timeoutMs?: number
  /** Nodes per site: 1 (a single server, the default) or 3 (a JetStream cluster with R3 streams). */
  cluster?: number
  /** Run `dvctl dlq capture` for each site in the background (default true; needs the layout). */
  capture?: boolean
  env?: NodeJS.ProcessEnv
  /** How a new sandbox's ports are chosen; freePort when absent (tests hand out a taken one). */
  choosePort?: () => Promise<number>
}

/**
 * Starts the sandbox, or restarts the servers of an existing one that are not running (same ports,
 * same data). A sandbox with other sites in the same directory is refused.
 */
export async function sandboxUp(options: SandboxUpOptions): Promise<SandboxResult> {
  const env = options.env ?? currentEnv()
  const dir = resolve(options.dir ?? defaultSandboxDir(env))
  const names = options.sites?.length ? options.sites : DEFAULT_SANDBOX_SITES
  checkSiteNames(names)
  const clusterSize = options.cluster ?? 1
  if (clusterSize !== 1 && clusterSize !== 3) {
    throw usageError(
      `--cluster ${clusterSize} is not supported`,
      'invalid-cluster-size',
      'Use --cluster 3 (a three-node JetStream cluster per site), or leave it out for one server per site.',
    )
  }
  const binary = await findNatsServer(options.binary, env)
  const warnings: string[] = []
  const started: string[] = []

  let state = await readState(dir)
  const fresh = !state
  if (state) {
    const existing = state.sites.map((s) => s.name)
    const existingSize = clusterSizeOf(state.sites[0])
    if (existing.join(',') !== names.join(',') || existingSize !== clusterSize) {
      throw refused(
        `A sandbox with sites ${existing.join(', ')}${existingSize > 1 ? ` (clusters of ${existingSize})` : ''} already exists in ${dir}`,
        'sandbox-exists',
        `Stop it first (dvctl sandbox down${options.dir ? ` --dir ${dir}` : ''}) or choose another --dir.`,
      )
    }
  }

  const startedNodes: StateNode[] = []
  for (let attempt = 1; ; attempt++) {
    state ??= await prepareState(dir, names, binary, clusterSize, options.choosePort)
    try {
      for (const site of state.sites) {
        for (const node of nodesOf(site)) {
          if (await isOurNatsServer(node.pid, node.config_file)) continue
          node.pid = await startDetached(node as DetachedServer, binary)
          startedNodes.push(node)
          if (!started.includes(site.name)) started.push(site.name)
          await writeState(dir, state)
        }
      }
      break
    } catch (error) {
      // Leave nothing half-started behind: stop what this run started; a re-run starts from scratch.
      for (const node of startedNodes) await stopDetached(node as DetachedServer)
      startedNodes.length = 0
      started.length = 0
      // A port chosen for a new sandbox was taken before its server bound it: the sandbox is prepared again
      // on fresh ports, all of them, since cluster routes and leaf remotes name each other's ports. An
      // existing sandbox keeps its ports (its sites' URLs are in configs).
      const retry = fresh && error instanceof PortInUseError && attempt < PORT_ATTEMPTS
      if (retry || !(await anyRunning(state))) await removeSandbox(dir, state)
      if (!retry) throw error
      state = undefined
    }
  }

  await waitForLeafLinks(state, startedNodes, warnings)
  if (options.layout !== false) await applyLayouts(state, options.timeoutMs ?? 5000)

  const config = join(dir, CONFIG_FILE)
  await saveConfig(config, sandboxConfig(state))
  if (options.layout !== false && options.capture !== false) await startCaptures(state, dir, config, env, warnings)
  if (options.register) {
    const saved = await updateConfig({env}, (user) => {
      for (const [name, site] of Object.entries(sandboxConfig(state).sites)) {
        if (user.sites[name] && user.sites[name].servers.join(',') !== site.servers.join(',')) {
          warnings.push(`replaced site ${name} in the user config with the sandbox's`)
        }
        user.sites[name] = site
      }
      user.default_site ??= state.sites[0].name
    })
    state.registered_in = saved.path
    state.created_config = saved.created || state.created_config === true
    await writeState(dir, state)
  }
  return {...(await describe(dir, state)), started, warnings}
}

/** The sandbox's sites and whether each server is still running; exit 5 when there is no sandbox. */
export async function sandboxStatus(options: {dir?: string; env?: NodeJS.ProcessEnv}): Promise<SandboxResult> {
  const dir = resolve(options.dir ?? defaultSandboxDir(options.env ?? currentEnv()))
  const state = await readState(dir)
  if (!state) {
    throw new UserError(`No sandbox in ${dir}`, {
      code: 'no-sandbox',
      exitCode: ExitCode.notFound,
      hint: `Start one with dvctl sandbox up${options.dir ? ` --dir ${dir}` : ''}.`,
    })
  }
  return describe(dir, state)
}

/**
 * Stops the servers this sandbox started (only pids that are still that nats-server) and, unless
 * `keep`, removes their state, the sandbox config, and the sites it registered in the user's config.
 * No sandbox is not an error: there is nothing to stop.
 */
export async function sandboxDown(options: {
  dir?: string
  keep?: boolean
  env?: NodeJS.ProcessEnv
}): Promise<SandboxDownResult> {
  const env = options.env ?? currentEnv()
  const dir = resolve(options.dir ?? defaultSandboxDir(env))
  const state = await readState(dir)
  const result: SandboxDownResult = {dir, stopped: [], not_running: [], removed: false, unregistered_from: null}
  if (!state) return result
  // The capture processes first: they finish the advisory in hand while their servers still answer.
  for (const site of state.sites) {
    if (!site.capture) continue
    const stopped = await stopCaptureProcess(site.name, site.capture)
    ;(stopped ? result.stopped : result.not_running).push({name: `capture:${site.name}`, pid: site.capture.pid})
  }
  // Stop the leaves before the hub, so that no leaf logs a reconnect storm on the way down.
  for (const site of [...state.sites].reverse()) {
    for (const node of nodesOf(site)) {
      const stopped = await stopDetached(node as DetachedServer)
      ;(stopped ? result.stopped : result.not_running).push({name: serverNameOf(site, node), pid: node.pid})
    }
  }
  if (options.keep) return result
  if (state.registered_in) {
    const own = sandboxConfig(state).sites
    // A config file the sandbox created goes with it, unless something else was configured there meanwhile.
    await updateConfig({path: state.registered_in, removeIfEmpty: state.created_config === true}, (user) => {
      for (const [name, site] of Object.entries(own)) {
        if (user.sites[name]?.servers.join(',') !== site.servers.join(',')) continue
        delete user.sites[name]
        if (user.default_site === name) delete user.default_site
      }
    })
    result.unregistered_from = state.registered_in
  }
  await removeSandbox(dir, state)
  result.removed = true
  return result
}

/** The sandbox's sites as a dvctl config: the first site is the default. */
export function sandboxConfig(state: SandboxState): DvctlConfig {
  const hub = state.sites[0].name
  return {
    default_site: hub,
    sites: Object.fromEntries(
      state.sites.map((s) => [
        s.name,
        {
          servers: nodesOf(s).map((n) => n.url),
          js_domain: s.name,
          description: s.role === 'hub' ? 'dvctl sandbox (leaf-node hub)' : `dvctl sandbox (leaf of ${hub})`,
        },
      ]),
    ),
  }
}

function checkSiteNames(names: string[]): void {
  for (const name of names) {
    if (!SITE_NAME.test(name)) {
      throw usageError(
        `Invalid site name "${name}"`,
        'invalid-site-name',
        'Site names are datacenter ids: lower-case letters, digits, "-" and "_" (e.g. --sites osl1,trd1).',
      )
    }
  }
  if (new Set(names).size !== names.length) {
    throw usageError(`Duplicate site in --sites ${names.join(',')}`, 'invalid-site-name', 'Name each site once.')
  }
}

async function prepareState(
  dir: string,
  names: string[],
  binary: string,
  clusterSize: number,
  choosePort: () => Promise<number> = freePort,
): Promise<SandboxState> {
  await mkdir(dir, {recursive: true})
  const sites: StateSite[] = []
  for (const [i, name] of names.entries()) {
    const hub = sites[0]
    const role = i === 0 ? 'hub' : 'leaf'
    // One remote listing every hub node: a leaf node dials whichever hub node answers.
    const leafRemotes = hub ? [nodesOf(hub).map((n) => n.leaf_url!)] : undefined
    if (clusterSize === 1) {
      const server = await prepareDetachedServer({
        name,
        dir: join(dir, name),
        leafListen: !hub,
        leafRemotes,
        choosePort,
      })
      sites.push({...server, role})
      continue
    }
    // Every member's ports are chosen first: each node's config lists its peers' routes.
    const ports = []
    for (let n = 0; n < clusterSize; n++) {
      ports.push({client: await choosePort(), cluster: await choosePort(), leaf: hub ? undefined : await choosePort()})
    }
    const nodes: StateNode[] = []
    for (const [n, p] of ports.entries()) {
      nodes.push(
        await prepareDetachedServer({
          name: `${name}-n${n + 1}`,
          dir: join(dir, name, `n${n + 1}`),
          domain: name,
          port: p.client,
          leafListen: !hub,
          leafPort: p.leaf,
          leafRemotes,
          cluster: {
            name,
            port: p.cluster,
            routes: ports.filter((q) => q !== p).map((q) => `nats-route://127.0.0.1:${q.cluster}`),
          },
        }),
      )
    }
    const [first, ...peers] = nodes
    sites.push({...first, name, node_name: first.name, dir: join(dir, name), role, peers})
  }
  const state: SandboxState = {
    version: 1,
    created_at: new Date().toISOString(),
    nats_server: binary,
    registered_in: null,
    sites,
  }
  await writeState(dir, state)
  return state
}

/** Each leaf logs its link to the hub; commands sent right after `up` must already cross it. */
/** Each leaf node logs its link to the hub; commands sent right after `up` must already cross it. */
async function waitForLeafLinks(state: SandboxState, started: StateNode[], warnings: string[]): Promise<void> {
  await Promise.all(
    state.sites
      .filter((s) => s.role === 'leaf')
      .flatMap((s) => nodesOf(s).map((node) => ({s, node})))
      .filter(({node}) => started.includes(node))
      .map(async ({s, node}) => {
        if (!(await waitForLog(node.log_file, 'Leafnode connection created', 10_000))) {
          warnings.push(
            `${serverNameOf(s, node)}: no leaf-node link to ${state.sites[0].name} yet (see ${node.log_file})`,
          )
        }
      }),
  )
}

/**
 * A fresh cluster answers JetStream requests only once its members have elected a meta leader; on a loaded
 * two-core machine that took more than 30 s (a CI run), so allow two minutes.
 */
const CLUSTER_READY_MS = 120_000

async function applyLayouts(state: SandboxState, timeoutMs: number): Promise<void> {
  const {connectSite} = await import('../nats/connection.js')
  const {ensureLayout} = await import('../layout/apply.js')
  await Promise.all(
    state.sites.map(async (s) => {
      const replicas = clusterSizeOf(s)
      const layout = replicas > 1 ? dataverketLayout({replicas}) : undefined
      const conn = await connectSite(
        {name: s.name, servers: nodesOf(s).map((n) => n.url), js_domain: s.name},
        {timeoutMs},
      )
      try {
        if (replicas === 1) {
          await ensureLayout(conn)
          return
        }
        // Until the meta leader (and then each stream's leader) is elected the server answers 503 or not at
        // all; applying again is harmless, since it only creates what is still missing.
        const deadline = Date.now() + CLUSTER_READY_MS
        for (;;) {
          try {
            await ensureLayout(conn, layout)
            return
          } catch (error) {
            if (Date.now() > deadline) throw error
            await new Promise((r) => setTimeout(r, 500))
          }
        }
      } finally {
        await conn.close()
      }
    }),
  )
}

async function describe(dir: string, state: SandboxState): Promise<SandboxResult> {
  const sites = await Promise.all(
    state.sites.map(async (s) => {
      const nodes = await Promise.all(
        nodesOf(s).map(async (node) => ({
          name: serverNameOf(s, node),
          url: node.url,
          pid: node.pid,
          store_dir: node.store_dir,
          running: await isOurNatsServer(node.pid, node.config_file),
          log_file: node.log_file,
        })),
      )
      return {
        name: s.name,
        url: s.url,
        js_domain: s.name,
        pid: s.pid,
        store_dir: s.store_dir,
        role: s.role,
        running: nodes.every((n) => n.running),
        log_file: s.log_file,
        servers: nodes.map((n) => n.url),
        nodes,
        capture: s.capture ? {...s.capture, running: await isCaptureRunning(s.name, s.capture)} : null,
      }
    }),
  )
  return {sites, config: join(dir, CONFIG_FILE), dir, registered_in: state.registered_in}
}

/** Starts each site's `dlq capture` that is not running; one that does not start is a warning. */
async function startCaptures(
  state: SandboxState,
  dir: string,
  config: string,
  env: NodeJS.ProcessEnv,
  warnings: string[],
): Promise<void> {
  await Promise.all(
    state.sites.map(async (s) => {
      if (await isCaptureRunning(s.name, s.capture)) return
      const started = await startCaptureProcess({site: s.name, config, logFile: join(s.dir, 'capture.log'), env})
      s.capture = started.process
      if (started.error) warnings.push(started.error)
    }),
  )
  await writeState(dir, state)
}

async function anyRunning(state: SandboxState): Promise<boolean> {
  for (const s of state.sites) {
    for (const node of nodesOf(s)) if (await isOurNatsServer(node.pid, node.config_file)) return true
  }
  return false
}

async function readState(dir: string): Promise<SandboxState | undefined> {
  let text: string
  try {
    text = await readFile(join(dir, STATE_FILE), 'utf8')
  } catch {
    return undefined
  }
  const parsed = SandboxState.safeParse(JSON.parse(text))
  if (!parsed.success) {
    throw usageError(
      `Unreadable sandbox state ${join(dir, STATE_FILE)}`,
      'sandbox-state-invalid',
      `Stop its servers by hand and remove ${dir}, or use another --dir.`,
    )
  }
  return parsed.data
}

async function writeState(dir: string, state: SandboxState): Promise<void> {
  const file = join(dir, STATE_FILE)
  const tmp = `${file}.${process.pid}.tmp`
  await writeFile(tmp, JSON.stringify(state, null, 2) + '\n', {mode: 0o600})
  await rename(tmp, file)
}

/** Removes only what the sandbox created; the directory itself only when nothing else is left in it. */
async function removeSandbox(dir: string, state: SandboxState): Promise<void> {
  for (const site of state.sites) await rm(site.dir, {recursive: true, force: true})
  await rm(join(dir, CONFIG_FILE), {force: true})
  await rm(join(dir, STATE_FILE), {force: true})
  try {
    if ((await readdir(dir)).length === 0) await rmdir(dir)
  } catch {
    // already gone
  }
}
