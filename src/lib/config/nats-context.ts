import {chmod, mkdir, readdir, readFile, writeFile} from 'node:fs/promises'
import {homedir} from 'node:os'
import {basename, dirname, join, resolve} from 'node:path'

import {z} from 'zod'

import {currentEnv} from '../context.js'
import {notFound, usageError} from '../errors.js'
import {configPath, SITE_NAME, SiteConfig, updateConfig, type DvctlConfig} from './file.js'
import {absolutePaths, inlineSecretError, type ConfigLocation} from './sites.js'
import {hasUrlCredentials, redactUrls} from './url.js'

/** The fields of a `nats` CLI context file (natscli `natscontext` settings) that map onto a site. */
const NatsContext = z.looseObject({
  description: z.string().optional(),
  url: z.string().optional(),
  token: z.string().optional(),
  user: z.string().optional(),
  password: z.string().optional(),
  creds: z.string().optional(),
  nkey: z.string().optional(),
  cert: z.string().optional(),
  key: z.string().optional(),
  ca: z.string().optional(),
  jetstream_domain: z.string().optional(),
})
type NatsContext = z.infer<typeof NatsContext>

/** Context settings a site cannot express; importing one is warned about, never silently dropped. */
const UNSUPPORTED = [
  'nsc',
  'user_jwt',
  'user_seed',
  'socks_proxy',
  'jetstream_api_prefix',
  'jetstream_event_prefix',
  'inbox_prefix',
  'tls_first',
  'windows_cert_store',
] as const

export const SiteImportResult = z.object({
  config: z.string(),
  context_dir: z.string(),
  imported: z.array(z.object({name: z.string(), context: z.string(), site: SiteConfig})),
  skipped: z.array(z.object({context: z.string(), reason: z.string()})),
  warnings: z.array(z.string()),
})
export type SiteImportResult = z.infer<typeof SiteImportResult>

export interface ImportOptions extends ConfigLocation {
  /** Only this context (file name without `.json`); all of them when absent. */
  context?: string
  /** Site name for a single imported context (default: the context name, lower-cased). */
  as?: string
  /** Replace sites that already exist. */
  force?: boolean
  /**
   * Import contexts holding a secret inline: a password or token is copied into a 0600 file beside the
   * config, a URL's credentials stay in the URL. Otherwise such contexts are refused (exit 2).
   */
  allowInlineSecret?: boolean
}

/** `$XDG_CONFIG_HOME/nats/context`, else `~/.config/nats/context` (where the `nats` CLI keeps contexts). */
export function natsContextDir(env: NodeJS.ProcessEnv = currentEnv()): string {
  const base = env.XDG_CONFIG_HOME || join(env.HOME || homedir(), '.config')
  return join(base, 'nats', 'context')
}

/**
 * Imports `nats` CLI contexts as sites (docs/operations.md, sites). File settings (creds, nkey, TLS) are kept as
 * paths. A context holding a secret inline is refused unless `allowInlineSecret`: then its token or
 * password is moved into a 0600 file beside the config, so the config names only the file.
 */
export async function importNatsContexts(options: ImportOptions): Promise<SiteImportResult> {
  const env = options.env ?? currentEnv()
  const dir = natsContextDir(env)
  const names = options.context ? [options.context.replace(/\.json$/, '')] : await contextNames(dir)
  if (options.as && names.length !== 1)
    throw usageError(
      '--as needs exactly one CONTEXT',
      'usage',
      'Name the context to import: dvctl site import CONTEXT --as NAME.',
    )
  const contexts: Array<{context: string; settings: NatsContext}> = []
  for (const context of names) contexts.push({context, settings: await readContext(dir, context)})
  const inline = contexts.filter(({settings}) => hasInlineSecret(settings)).map(({context}) => context)
  if (inline.length && !options.allowInlineSecret) {
    throw inlineSecretError(
      `the nats context${inline.length > 1 ? 's' : ''} ${inline.join(', ')}`,
      'Give the context a creds file instead (nats context edit NAME), import the other contexts by name, or add ' +
        'the site with its secret in a file: dvctl site add NAME --server URL --user USER --password-file FILE ' +
        '(a token: --token-file FILE).',
    )
  }

  const file = options.path ? resolve(options.path) : configPath(env)
  const secretDir = join(dirname(file), 'secrets')
  const result: SiteImportResult = {config: file, context_dir: dir, imported: [], skipped: [], warnings: []}
  const secrets: PendingSecret[] = []
  await updateConfig({...options, path: file}, (config) => {
    for (const {context, settings} of contexts) {
      importOne(config, context, settings, {...options, secretDir}, result, secrets)
    }
  })
  // Secrets moved out of contexts are written only once the config write succeeded.
  for (const secret of secrets) await writeSecret(secret)
  return result
}

/** A password or token in the context, or credentials in its URL. */
function hasInlineSecret(settings: NatsContext): boolean {
  return Boolean(settings.password || settings.token || contextServers(settings).some(hasUrlCredentials))
}

/** The context's `url` as server URLs; the `nats` CLI accepts `host:port` without a scheme. */
function contextServers(settings: NatsContext): string[] {
  return (settings.url || 'nats://127.0.0.1:4222')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((s) => (/^[a-z][a-z0-9+.-]*:\/\//i.test(s) ? s : `nats://${s}`))
}

interface PendingSecret {
  file: string
  value: string
}

function importOne(
  config: DvctlConfig,
  context: string,
  settings: NatsContext,
  options: ImportOptions & {secretDir: string},
  result: SiteImportResult,
  secrets: PendingSecret[],
): void {
  const name = options.as ?? context.toLowerCase().replace(/[^a-z0-9_-]+/g, '-')
  if (!SITE_NAME.test(name)) {
    result.skipped.push({context, reason: `"${name}" is not a valid site name; import it with --as NAME`})
    return
  }
  if (config.sites[name] && !options.force) {
    result.skipped.push({context, reason: `site ${name} already exists (use --force to replace it)`})
    return
  }
  const servers = contextServers(settings)
  const tls =
    settings.ca || settings.cert || settings.key
      ? {
          ...(settings.ca ? {ca: expandHome(settings.ca)} : {}),
          ...(settings.cert ? {cert: expandHome(settings.cert)} : {}),
          ...(settings.key ? {key: expandHome(settings.key)} : {}),
        }
      : undefined
  const site: SiteConfig = {
    servers,
    ...(settings.creds ? {creds: expandHome(settings.creds)} : {}),
    ...(settings.nkey ? {nkey: expandHome(settings.nkey)} : {}),
    ...(settings.user ? {user: settings.user} : {}),
    ...(tls ? {tls} : {}),
    ...(settings.jetstream_domain ? {js_domain: settings.jetstream_domain} : {}),
    description: settings.description || `imported from nats context ${context}`,
  }
  const unsupported = UNSUPPORTED.filter(
    (key) => settings[key] !== undefined && settings[key] !== '' && settings[key] !== false,
  )
  if (unsupported.length)
    result.warnings.push(`${context}: not imported (dvctl has no such setting): ${unsupported.join(', ')}`)
  if (settings.token) {
    site.token_file = join(options.secretDir, `${name}.token`)
    secrets.push({file: site.token_file, value: settings.token})
    result.warnings.push(`${context}: the inline token was moved to a 0600 file (token_file)`)
  }
  if (settings.password) {
    site.password_file = join(options.secretDir, `${name}.password`)
    secrets.push({file: site.password_file, value: settings.password})
    result.warnings.push(`${context}: the inline password was moved to a 0600 file (password_file)`)
  }
  const parsed = SiteConfig.safeParse(absolutePaths(site))
  if (!parsed.success) {
    result.skipped.push({
      context,
      reason: parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '),
    })
    return
  }
  config.sites[name] = parsed.data
  if (!config.default_site) config.default_site = name
  result.imported.push({name, context, site: {...parsed.data, servers: parsed.data.servers.map(redactUrls)}})
}

async function writeSecret(secret: PendingSecret): Promise<void> {
  await mkdir(dirname(secret.file), {recursive: true, mode: 0o700})
  await writeFile(secret.file, secret.value + '\n', {mode: 0o600})
  await chmod(secret.file, 0o600)
}

async function contextNames(dir: string): Promise<string[]> {
  let files: string[]
  try {
    files = await readdir(dir)
  } catch {
    files = []
  }
  const names = files.filter((f) => f.endsWith('.json')).map((f) => basename(f, '.json'))
  if (names.length === 0) {
    throw notFound(
      `No nats CLI contexts in ${dir}`,
      'no-contexts',
      'Create one with nats context add, set XDG_CONFIG_HOME, or add the site directly: dvctl site add NAME --server URL.',
    )
  }
  return names.sort()
}

async function readContext(dir: string, context: string): Promise<NatsContext> {
  const file = join(dir, `${context}.json`)
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch {
    throw notFound(`No nats CLI context "${context}" (${file})`, 'unknown-context', `List them with ls ${dir}.`)
  }
  let raw: unknown
  try {
    raw = JSON.parse(text)
  } catch (error) {
    // Node quotes the text around the fault, which may be a password: only the position is kept.
    const where = (error as Error).message.replace(
      /,? ?(?:\.\.\.)?"[\s\S]*"(?:\.\.\.)? is not valid JSON/,
      ' (not valid JSON)',
    )
    throw usageError(
      `Invalid nats context file ${file}: ${where}`,
      'invalid-context',
      'Fix the file with nats context edit.',
    )
  }
  const parsed = NatsContext.safeParse(raw)
  if (!parsed.success) {
    throw usageError(
      `Invalid nats context file ${file}: ${parsed.error.issues[0].message}`,
      'invalid-context',
      'Fix the file with nats context edit.',
    )
  }
  return parsed.data
}

function expandHome(p: string): string {
  return p.startsWith('~/') ? join(homedir(), p.slice(2)) : p
}
