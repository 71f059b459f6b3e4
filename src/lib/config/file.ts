import {randomBytes} from 'node:crypto'
import {mkdir, open, readFile, readlink, realpath, rename, rm} from 'node:fs/promises'
import {homedir, userInfo} from 'node:os'
import {basename, dirname, isAbsolute, join, resolve} from 'node:path'

import {z} from 'zod'

import {currentEnv} from '../context.js'
import {parseDuration} from '../duration.js'
import {UserError, usageError} from '../errors.js'
import {ExitCode} from '../exit-codes.js'
import type {SiteTarget} from './site.js'

/** A site's name is its `datacenter_id` (ADR "Inter-datacenter model"): short, lower-case, no spaces. */
export const SITE_NAME = /^[a-z0-9][a-z0-9_-]*$/

export const TlsConfig = z.strictObject({
  ca: z.string().min(1).optional(),
  cert: z.string().min(1).optional(),
  key: z.string().min(1).optional(),
  insecure: z.boolean().optional(),
})

const durationText = z.string().refine(
  (text) => {
    try {
      parseDuration(text)
      return true
    } catch {
      return false
    }
  },
  {message: 'a duration like 30s, 5m, 1h or 14d'},
)
const count = z.number().int().min(0)

/**
 * A site's alerting thresholds for `dvctl check` (docs/operations.md, "Alerting"): the flags of the same
 * name override them, built-in defaults fill the rest. Counts are "above": a value greater than the
 * threshold crosses it.
 */
export const SiteChecks = z.strictObject({
  dlq_pending_warn: count.optional(),
  dlq_pending_crit: count.optional(),
  dlq_oldest_warn: durationText.optional(),
  dlq_oldest_crit: durationText.optional(),
  lag_warn: count.optional(),
  lag_crit: count.optional(),
  stalled_task: durationText.optional(),
  source_lag_warn: count.optional(),
  source_lag_crit: count.optional(),
})
export type SiteChecks = z.infer<typeof SiteChecks>

/** One site in the config file (docs/operations.md, sites). Secrets are paths to files, never the secrets. */
export const SiteConfig = z.strictObject({
  servers: z.array(z.string().regex(/^[a-z][a-z0-9+.-]*:\/\/\S+$/i, 'a URL like nats://host:4222')).min(1),
  creds: z.string().min(1).optional(),
  nkey: z.string().min(1).optional(),
  token_file: z.string().min(1).optional(),
  user: z.string().min(1).optional(),
  password_file: z.string().min(1).optional(),
  tls: TlsConfig.optional(),
  js_domain: z.string().min(1).optional(),
  description: z.string().optional(),
  /** Alerting thresholds for `dvctl check` on this site. */
  checks: SiteChecks.optional(),
})
export type SiteConfig = z.infer<typeof SiteConfig>

export const DvctlConfig = z.strictObject({
  default_site: z.string().optional(),
  /** The operator identity recorded as `actor` in envelopes and ledger entries. */
  actor: z.string().min(1).optional(),
  /** A directory of team JSON Schema files (docs/contract.md). */
  schemas: z.string().min(1).optional(),
  sites: z
    .record(z.string().regex(SITE_NAME, 'a site name: lower-case letters, digits, "-" and "_"'), SiteConfig)
    .default({}),
})
export type DvctlConfig = z.infer<typeof DvctlConfig>

export interface LoadedConfig {
  /** The file the config came from, or would be written to. */
  path: string
  /** False when the file does not exist yet (an empty config). */
  exists: boolean
  config: DvctlConfig
}

/** `$DVCTL_CONFIG`, else `$XDG_CONFIG_HOME/dvctl/config.yaml`, else `~/.config/dvctl/config.yaml`. */
export function configPath(env: NodeJS.ProcessEnv = currentEnv()): string {
  if (env.DVCTL_CONFIG) return resolve(env.DVCTL_CONFIG)
  const base = env.XDG_CONFIG_HOME || join(env.HOME || homedir(), '.config')
  return join(base, 'dvctl', 'config.yaml')
}

/**
 * Reads and validates the config file. A missing file is an empty config; a file that does not parse
 * or breaks the schema is a usage error (exit 2) naming the file, the line and the key.
 */
export async function loadConfig(options: {path?: string; env?: NodeJS.ProcessEnv} = {}): Promise<LoadedConfig> {
  const path = options.path ? resolve(options.path) : configPath(options.env)
  const text = await readConfigText(path, path)
  if (text === undefined) return {path, exists: false, config: DvctlConfig.parse({})}
  return {path, exists: true, config: await parseConfig(text, path)}
}

/** The text of the config file at `file`, or undefined when there is none; errors name `shown`. */
async function readConfigText(file: string, shown: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8')
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code === 'ENOENT') return undefined
    throw usageError(
      `Cannot read config file ${shown}: ${code ?? String(error)}`,
      'config-unreadable',
      configHint(shown),
    )
  }
}

/** Parses config text (YAML or JSON); errors name `path:line` and the offending key. */
export async function parseConfig(text: string, path: string): Promise<DvctlConfig> {
  const [YAML, {parseYamlDocument}] = await Promise.all([import('yaml'), import('../yaml.js')])
  const lineCounter = new YAML.LineCounter()
  const doc = parseYamlDocument(YAML, text, {lineCounter, uniqueKeys: true})
  if (doc.errors.length > 0) {
    const first = doc.errors[0]
    const line = lineCounter.linePos(first.pos[0]).line
    throw invalidConfig(path, line, first.message.split('\n')[0])
  }
  let raw: unknown
  try {
    raw = doc.toJS() ?? {}
  } catch (error) {
    // An unresolved alias (`*x`) or an alias bomb is only found when the document is turned into values.
    throw invalidConfig(path, undefined, (error as Error).message.split('\n')[0])
  }
  const parsed = DvctlConfig.safeParse(raw)
  if (parsed.success) return parsed.data
  const issue = parsed.error.issues[0]
  const keyPath = [...issue.path, ...(issue.code === 'unrecognized_keys' ? [issue.keys[0]] : [])] as Array<
    string | number
  >
  const line = lineOf(YAML, doc, keyPath, lineCounter)
  const where = keyPath.length ? keyPath.join('.') : '(top level)'
  const what = issue.code === 'unrecognized_keys' ? `unknown key "${issue.keys.join('", "')}"` : issue.message
  throw invalidConfig(path, line, `${where}: ${what}`)
}

/** The line of the deepest node along `keyPath` that exists in the document (1-based), if any. */
function lineOf(
  YAML: typeof import('yaml'),
  doc: import('yaml').Document,
  keyPath: Array<string | number>,
  lineCounter: import('yaml').LineCounter,
): number | undefined {
  for (let depth = keyPath.length; depth >= 1; depth--) {
    const parent = depth === 1 ? doc.contents : doc.getIn(keyPath.slice(0, depth - 1), true)
    if (!YAML.isMap(parent)) continue
    const pair = parent.items.find((p) => (YAML.isScalar(p.key) ? p.key.value : p.key) === keyPath[depth - 1])
    const node = (pair?.key ?? pair?.value) as {range?: [number, number, number]} | undefined
    if (node?.range) return lineCounter.linePos(node.range[0]).line
  }
  return undefined
}

function invalidConfig(path: string, line: number | undefined, message: string): UserError {
  return usageError(
    `Invalid config file ${path}${line ? `:${line}` : ''}: ${message}`,
    'config-invalid',
    configHint(path),
  )
}

function configHint(path: string): string {
  return `Fix or remove ${path} (DVCTL_CONFIG selects another file); dvctl site add/remove edit it safely.`
}

/**
 * Writes the whole config (for a file dvctl owns, like the sandbox's); changes to the operator's config
 * go through updateConfig. Locked and atomic like it.
 */
export async function saveConfig(path: string, config: DvctlConfig, previousText?: string): Promise<void> {
  const clean = DvctlConfig.parse(config)
  const shown = resolve(path)
  await withConfigFile(shown, async (target) => writeAtomically(target, await configText(clean, previousText), shown))
}

/**
 * Loads, changes and saves the config as one step that concurrent dvctl processes cannot interleave:
 * under the file's lock the config is read again, changed and written atomically, so no update is lost.
 */
export async function updateConfig(
  options: {
    path?: string
    env?: NodeJS.ProcessEnv
    /** When the change leaves nothing configured, remove the file instead of writing an empty config. */
    removeIfEmpty?: boolean
  },
  change: (config: DvctlConfig) => void,
): Promise<LoadedConfig & {created: boolean}> {
  const path = options.path ? resolve(options.path) : configPath(options.env)
  return withConfigFile(path, async (target) => {
    const previousText = await readConfigText(target, path)
    const config = previousText === undefined ? DvctlConfig.parse({}) : await parseConfig(previousText, path)
    change(config)
    const created = previousText === undefined
    const parsed = DvctlConfig.parse(config)
    if (options.removeIfEmpty && JSON.stringify(parsed) === JSON.stringify(DvctlConfig.parse({}))) {
      await rm(target, {force: true})
      return {path, exists: false, config: parsed, created}
    }
    await writeAtomically(target, await configText(parsed, previousText), path)
    return {path, exists: true, config, created}
  })
}

/** How long a writer waits for another's lock: past the 10 s after which a killed writer's lock is stale. */
const LOCK_RETRIES = {retries: 100, factor: 1.5, minTimeout: 20, maxTimeout: 250, randomize: true}
const LOCK_STALE_MS = 10_000

/**
 * Runs `work` on the real file behind `path` while holding its lock (proper-lockfile: a `.lock` directory
 * beside the real file, so every path to it, link or not, takes the same lock, and the config need not
 * exist yet). A symlinked config is written through the link, which stays a link.
 */
async function withConfigFile<T>(path: string, work: (target: string) => Promise<T>): Promise<T> {
  const linked = await followLinks(path)
  try {
    await mkdir(dirname(linked), {recursive: true, mode: 0o700})
  } catch (error) {
    throw unwritable(path, error)
  }
  const target = join(await realpath(dirname(linked)), basename(linked))
  const {lock} = await import('proper-lockfile')
  let compromised: Error | undefined
  let release: () => Promise<void>
  try {
    release = await lock(target, {
      realpath: false,
      lockfilePath: `${target}.lock`,
      stale: LOCK_STALE_MS,
      retries: LOCK_RETRIES,
      // Thrown from a timer by default, which would kill the process: checked before the write instead.
      onCompromised: (error) => {
        compromised = error
      },
    })
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ELOCKED') throw unwritable(path, error)
    throw new UserError(`Config file ${path} is locked by another dvctl command (${target}.lock)`, {
      code: 'config-locked',
      exitCode: ExitCode.timeout,
      hint: `Retry when the other command has finished; the lock of a killed command expires after ${LOCK_STALE_MS / 1000}s.`,
    })
  }
  try {
    const result = await work(target)
    if (compromised) throw unwritable(path, compromised)
    return result
  } finally {
    await release().catch(() => undefined)
  }
}

/** The file a path finally names, through any chain of symlinks, even to a file that does not exist yet. */
async function followLinks(path: string): Promise<string> {
  let current = path
  for (let hops = 0; hops < 32; hops++) {
    let link: string
    try {
      link = await readlink(current)
    } catch {
      // Not a link (EINVAL), or nothing there yet (ENOENT): this is the file.
      return current
    }
    current = resolve(dirname(current), link)
  }
  return current
}

/**
 * Writes without ever leaving a half-written file: a temporary file in the target's own directory
 * (mode 0600: it names credential files), flushed, then an atomic rename over the old one.
 */
async function writeAtomically(target: string, text: string, shown: string): Promise<void> {
  const tmp = join(dirname(target), `.${basename(target)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`)
  try {
    const handle = await open(tmp, 'wx', 0o600)
    try {
      await handle.writeFile(text)
      await handle.chmod(0o600)
      await handle.sync()
    } finally {
      await handle.close()
    }
    await rename(tmp, target)
  } catch (error) {
    await rm(tmp, {force: true})
    throw unwritable(shown, error)
  }
}

function unwritable(path: string, error: unknown): UserError {
  return new UserError(`Cannot write config file ${path}: ${(error as NodeJS.ErrnoException).code ?? error}`, {
    code: 'config-unwritable',
    exitCode: ExitCode.usage,
    hint: 'Check the permissions of the directory, or point DVCTL_CONFIG at a writable file.',
  })
}

/**
 * The file's new text. When there is an old text, only what changed is rewritten in its YAML document,
 * so an operator's comments and ordering elsewhere in the file survive `site add/use/remove`.
 */
async function configText(config: DvctlConfig, previousText: string | undefined): Promise<string> {
  const YAML = await import('yaml')
  if (previousText === undefined || previousText.trim() === '') {
    return (
      '# dvctl sites (see: dvctl help site). Written by dvctl; secrets are paths to files.\n' +
      YAML.stringify(config, {lineWidth: 0})
    )
  }
  const {parseYamlDocument} = await import('../yaml.js')
  const doc = parseYamlDocument(YAML, previousText)
  const before = DvctlConfig.parse(doc.toJS() ?? {})
  const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b)
  for (const key of ['default_site', 'actor', 'schemas'] as const) {
    if (same(before[key], config[key])) continue
    if (config[key] === undefined) doc.delete(key)
    else doc.set(key, config[key])
  }
  if (!YAML.isMap(doc.get('sites', true))) doc.set('sites', doc.createNode({}))
  for (const name of Object.keys(before.sites)) if (!config.sites[name]) doc.deleteIn(['sites', name])
  for (const [name, site] of Object.entries(config.sites)) {
    if (!same(before.sites[name], site)) doc.setIn(['sites', name], doc.createNode(site))
  }
  return doc.toString({lineWidth: 0})
}

/** The identity recorded as `actor` for operator actions: the config's `actor`, else the OS user. */
export function operatorActor(config: DvctlConfig | undefined, env: NodeJS.ProcessEnv = currentEnv()): string {
  if (config?.actor) return config.actor
  try {
    return userInfo().username
  } catch {
    return env.USER || env.LOGNAME || 'unknown'
  }
}

/** A config site as a connection target; relative file paths are relative to the config file. */
export function siteTarget(name: string, site: SiteConfig, configFile: string): SiteTarget {
  const base = dirname(configFile)
  const file = (p: string | undefined) => (p === undefined ? undefined : isAbsolute(p) ? p : resolve(base, p))
  const tls = site.tls
    ? {
        ...(site.tls.ca ? {ca: file(site.tls.ca)} : {}),
        ...(site.tls.cert ? {cert: file(site.tls.cert)} : {}),
        ...(site.tls.key ? {key: file(site.tls.key)} : {}),
        ...(site.tls.insecure !== undefined ? {insecure: site.tls.insecure} : {}),
      }
    : undefined
  return {
    name,
    servers: site.servers,
    ...(site.creds ? {creds: file(site.creds)} : {}),
    ...(site.nkey ? {nkey: file(site.nkey)} : {}),
    ...(site.token_file ? {token_file: file(site.token_file)} : {}),
    ...(site.user ? {user: site.user} : {}),
    ...(site.password_file ? {password_file: file(site.password_file)} : {}),
    ...(tls ? {tls} : {}),
    ...(site.js_domain ? {js_domain: site.js_domain} : {}),
    ...(site.description ? {description: site.description} : {}),
    ...(site.checks ? {checks: site.checks} : {}),
  }
}
