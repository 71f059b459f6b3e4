import {usageError} from '../errors.js'
import {DEFAULT_SERVER, type SiteTarget, siteNameForUrl} from './site.js'

/** What the user asked for on the command line (global flags). */
export interface SiteSelection {
  server?: string
  site?: string[]
  allSites?: boolean
  creds?: string
}

/**
 * Turns flags and environment into the sites to talk to, by the precedence of DESIGN.md section 3:
 * `--server` > `--site` > `DV_SITE` > `NATS_URL` > default site in config > nats://127.0.0.1:4222.
 * `NATS_CREDS` / `--creds` apply to a site addressed by URL, as in the `nats` CLI.
 */
export async function resolveSites(
  selection: SiteSelection,
  env: NodeJS.ProcessEnv = process.env,
): Promise<SiteTarget[]> {
  const creds = selection.creds ?? env.NATS_CREDS
  const byUrl = (url: string): SiteTarget => ({
    name: siteNameForUrl(url),
    servers: url.split(','),
    ...(creds ? {creds} : {}),
  })
  if (selection.server) return [byUrl(selection.server)]
  const named = selection.site?.length ? selection.site : env.DV_SITE ? [env.DV_SITE] : []
  if (named.length || selection.allSites) {
    throw usageError(
      `No site config: cannot resolve ${selection.allSites ? '--all-sites' : `site "${named.join(', ')}"`}`,
      'unknown-site',
      'Use --server URL, or add sites with dvctl site add.',
    )
  }
  return [byUrl(env.NATS_URL ?? DEFAULT_SERVER)]
}
