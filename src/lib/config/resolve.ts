import {currentEnv} from '../context.js'
import {usageError} from '../errors.js'
import {loadConfig, siteTarget, type LoadedConfig} from './file.js'
import {DEFAULT_SERVER, type SiteTarget, siteNameForUrl} from './site.js'

/** What the user asked for on the command line (global flags). */
export interface SiteSelection {
  server?: string
  site?: string[]
  allSites?: boolean
  creds?: string
}

/**
 * Turns flags and environment into the sites to talk to, by the precedence of docs/operations.md, sites:
 * `--server` > `--site` (or `--all-sites`) > `DV_SITE` > `NATS_URL` > default site in config; nats://127.0.0.1:4222
 * only when there is no config file at all.
 * `NATS_CREDS` / `--creds` apply to a site addressed by URL, as in the `nats` CLI; `--creds` also
 * overrides a named site's credentials. The config file is only read when a name is needed.
 */
export async function resolveSites(
  selection: SiteSelection,
  env: NodeJS.ProcessEnv = currentEnv(),
): Promise<SiteTarget[]> {
  const creds = selection.creds ?? env.NATS_CREDS
  const byUrl = (url: string): SiteTarget => ({
    name: siteNameForUrl(url),
    servers: url.split(','),
    byUrl: true,
    ...(creds ? {creds} : {}),
  })
  const withFlagCreds = (target: SiteTarget): SiteTarget =>
    selection.creds ? {...target, creds: selection.creds} : target

  if (selection.server) return [byUrl(selection.server)]
  if (selection.allSites) {
    const loaded = await loadConfig({env})
    const names = Object.keys(loaded.config.sites)
    if (names.length === 0) {
      throw usageError(
        `--all-sites: no sites in ${loaded.path}`,
        'no-sites',
        'Add sites with dvctl site add NAME --server URL (or dvctl site import, or dvctl sandbox up).',
      )
    }
    return names.map((name) => withFlagCreds(named(loaded, name, '--all-sites')))
  }
  // One site per --site (repeat the flag for several): a value is a name, never a list.
  const flagged = (selection.site ?? []).filter(Boolean)
  const list = flagged.find((s) => s.includes(','))
  if (list) {
    throw usageError(
      `--site takes one site name, not a list: "${list}"`,
      'site-list',
      `Repeat the flag for several sites: ${list
        .split(',')
        .filter(Boolean)
        .map((s) => `--site ${s}`)
        .join(' ')}.`,
    )
  }
  if (flagged.length) {
    const loaded = await loadConfig({env})
    return [...new Set(flagged)].map((name) => withFlagCreds(named(loaded, name, '--site')))
  }
  if (env.DV_SITE) {
    const loaded = await loadConfig({env})
    return [withFlagCreds(named(loaded, env.DV_SITE, 'DV_SITE'))]
  }
  if (env.NATS_URL) return [byUrl(env.NATS_URL)]
  const loaded = await loadConfig({env})
  const fallback = loaded.config.default_site
  if (fallback) return [withFlagCreds(named(loaded, fallback, `default_site in ${loaded.path}`))]
  // The local server is assumed only on a machine with no config at all (a newcomer). Once sites are
  // configured, a command without a site must not quietly act on whatever listens on 4222.
  if (loaded.exists) throw noSiteChosen(loaded)
  return [byUrl(DEFAULT_SERVER)]
}

function named(loaded: LoadedConfig, name: string, source: string): SiteTarget {
  const site = loaded.config.sites[name]
  if (site) return siteTarget(name, site, loaded.path)
  const known = Object.keys(loaded.config.sites)
  throw usageError(
    `Unknown site "${name}" (from ${source}): ${
      known.length ? `${loaded.path} has ${known.join(', ')}` : `no sites in ${loaded.path}`
    }`,
    'unknown-site',
    known.length
      ? `Use one of ${known.join(', ')}, or add it with dvctl site add ${name} --server URL.`
      : `Add it with dvctl site add ${name} --server URL, or use --server URL.`,
  )
}

function noSiteChosen(loaded: LoadedConfig) {
  const known = Object.keys(loaded.config.sites)
  return usageError(
    known.length
      ? `No site chosen: ${loaded.path} has ${known.join(', ')} and no default site.`
      : `No site chosen: ${loaded.path} has no sites.`,
    'no-site-chosen',
    known.length
      ? `Give --site ${known[0]} (or another of ${known.join(', ')}), or make one the default: dvctl site use ${known[0]}.`
      : 'Add a site with dvctl site add NAME --server URL, or give --server URL.',
  )
}
