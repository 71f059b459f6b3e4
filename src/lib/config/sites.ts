import {resolve} from 'node:path'

import {z} from 'zod'

import {notFound, refused, usageError, type UserError} from '../errors.js'
import {loadConfig, SITE_NAME, SiteConfig, updateConfig, type DvctlConfig, type LoadedConfig} from './file.js'
import {hasUrlCredentials, redactUrls, stripUrlCredentials} from './url.js'

/**
 * A site as shown by `site list` / `site show`: settings and file paths, never the contents of secret
 * files, and server URLs with their credentials redacted.
 */
export const SiteEntry = SiteConfig.extend({name: z.string(), default: z.boolean()})
export type SiteEntry = z.infer<typeof SiteEntry>

export const SiteListResult = z.object({
  config: z.string(),
  default_site: z.string().nullable(),
  sites: z.array(SiteEntry),
})
export type SiteListResult = z.infer<typeof SiteListResult>

export const SiteShowResult = SiteEntry.extend({config: z.string()})
export type SiteShowResult = z.infer<typeof SiteShowResult>

export const SiteChangeResult = z.object({
  config: z.string(),
  action: z.enum(['added', 'replaced', 'removed', 'default']),
  site: z.string(),
  default_site: z.string().nullable(),
  /** `removed` only: the removed site was the default, so now no site is. */
  was_default: z.boolean().optional(),
  /** `removed` only: the sites left to choose from. */
  sites: z.array(z.string()).optional(),
})
export type SiteChangeResult = z.infer<typeof SiteChangeResult>

export interface ConfigLocation {
  /** Explicit config file; else DVCTL_CONFIG / XDG_CONFIG_HOME / ~/.config (configPath). */
  path?: string
  env?: NodeJS.ProcessEnv
}

export interface AddSiteOptions extends ConfigLocation {
  name: string
  site: SiteConfig
  /** Replace a site of the same name (otherwise refused, exit 6). */
  force?: boolean
  /** Make it the default site (the first site added becomes the default anyway). */
  makeDefault?: boolean
  /** Store a user:password or token written into a server URL (otherwise refused, exit 2). */
  allowInlineSecret?: boolean
}

export function checkSiteName(name: string): void {
  if (!SITE_NAME.test(name)) {
    throw usageError(
      `Invalid site name "${name}": use lower-case letters, digits, "-" and "_" (the datacenter_id, e.g. osl1)`,
      'invalid-site-name',
      'Name the site after its datacenter_id, e.g. dvctl site add osl1 --server nats://...',
    )
  }
}

/** Paths to secret files are stored absolute, so the config means the same from any directory. */
export function absolutePaths(site: SiteConfig): SiteConfig {
  const abs = (p: string | undefined) => (p === undefined ? undefined : resolve(p))
  const copy: SiteConfig = {...site}
  for (const key of ['creds', 'nkey', 'token_file', 'password_file'] as const) if (copy[key]) copy[key] = abs(copy[key])
  if (copy.tls) {
    copy.tls = {...copy.tls}
    for (const key of ['ca', 'cert', 'key'] as const) if (copy.tls[key]) copy.tls[key] = abs(copy.tls[key])
  }
  return SiteConfig.parse(copy)
}

/**
 * Refuses (exit 2) to store a secret given inline (a URL's user:password or token, a context's password
 * or token) unless the operator said so with `--allow-inline-secret`. `what` names it, redacted.
 */
export function inlineSecretError(what: string, instead: string): UserError {
  return usageError(
    `Inline secret in ${what}: dvctl stores a password or token given inline only with --allow-inline-secret`,
    'inline-secret',
    `${instead} Or add --allow-inline-secret to store it anyway (files mode 0600; URLs always shown redacted).`,
  )
}

export async function addSite(options: AddSiteOptions): Promise<SiteChangeResult> {
  checkSiteName(options.name)
  const inline = options.site.servers.find(hasUrlCredentials)
  if (inline && !options.allowInlineSecret) {
    throw inlineSecretError(
      `the URL ${redactUrls(inline)}`,
      `Keep the secret in a file (mode 0600) and the URL without it: dvctl site add ${options.name} --server ` +
        `${stripUrlCredentials(inline)} --user USER --password-file FILE (a token: --token-file FILE; ` +
        'NATS credentials: --creds FILE).',
    )
  }
  const site = absolutePaths(options.site)
  let action: 'added' | 'replaced' = 'added'
  const saved = await updateConfig(options, (config) => {
    if (config.sites[options.name]) {
      if (!options.force) {
        throw refused(
          `Site ${options.name} already exists in the config`,
          'site-exists',
          `Re-run with --force to replace it, or remove it first: dvctl site remove ${options.name}.`,
        )
      }
      action = 'replaced'
    }
    config.sites[options.name] = site
    if (options.makeDefault || !config.default_site) config.default_site = options.name
  })
  return change(saved, action, options.name)
}

export async function removeSite(options: ConfigLocation & {name: string}): Promise<SiteChangeResult> {
  let wasDefault = false
  const saved = await updateConfig(options, (config) => {
    requireSite(config, options.name)
    delete config.sites[options.name]
    wasDefault = config.default_site === options.name
    if (wasDefault) delete config.default_site
  })
  return {...change(saved, 'removed', options.name), was_default: wasDefault, sites: Object.keys(saved.config.sites)}
}

export async function useSite(options: ConfigLocation & {name: string}): Promise<SiteChangeResult> {
  const saved = await updateConfig(options, (config) => {
    requireSite(config, options.name)
    config.default_site = options.name
  })
  return change(saved, 'default', options.name)
}

export async function listSites(options: ConfigLocation = {}): Promise<SiteListResult> {
  const loaded = await loadConfig(options)
  return {
    config: loaded.path,
    default_site: loaded.config.default_site ?? null,
    sites: Object.entries(loaded.config.sites).map(([name, site]) => entry(loaded, name, site)),
  }
}

export async function showSite(options: ConfigLocation & {name: string}): Promise<SiteShowResult> {
  const loaded = await loadConfig(options)
  const site = requireSite(loaded.config, options.name)
  return {...entry(loaded, options.name, site), config: loaded.path}
}

/** A site as shown: a password or token written into a server URL is redacted. */
function entry(loaded: LoadedConfig, name: string, site: SiteConfig): SiteEntry {
  return {name, ...site, servers: site.servers.map(redactUrls), default: loaded.config.default_site === name}
}

function requireSite(config: DvctlConfig, name: string): SiteConfig {
  const site = config.sites[name]
  if (site) return site
  const known = Object.keys(config.sites)
  throw notFound(
    `No site "${name}" in the config${known.length ? ` (sites: ${known.join(', ')})` : ''}`,
    'unknown-site',
    known.length
      ? `Use one of ${known.join(', ')}; dvctl site list shows them.`
      : `Add it with dvctl site add ${name} --server URL.`,
  )
}

function change(saved: LoadedConfig, action: SiteChangeResult['action'], site: string): SiteChangeResult {
  return {config: saved.path, action, site, default_site: saved.config.default_site ?? null}
}
