import {z} from 'zod'

import type {SiteTarget} from '../config/site.js'
import type {UserError} from '../errors.js'
import type {SiteConnection} from './connection.js'
import {classifyConnectionError} from './errors.js'

export const SiteCheckResult = z.object({
  site: z.string(),
  url: z.string(),
  connected: z.boolean(),
  server_version: z.string().nullable(),
  jetstream: z.object({enabled: z.boolean(), domain: z.string().nullable()}),
  rtt_ms: z.number().nullable(),
  error: z.string().optional(),
})
export type SiteCheckResult = z.infer<typeof SiteCheckResult>

/** Version, JetStream state and domain, and round-trip time of a connected site. */
export async function checkSite(conn: SiteConnection): Promise<SiteCheckResult> {
  const rtt = await conn.nc.rtt()
  let enabled = false
  let domain: string | null = conn.site.js_domain ?? null
  let error: string | undefined
  try {
    const jsm = await conn.jsm()
    const info = await jsm.getAccountInfo()
    enabled = true
    domain = (info as {domain?: string}).domain ?? domain
  } catch (e) {
    error = classifyConnectionError(e).detail
  }
  return {
    site: conn.site.name,
    url: conn.url,
    connected: true,
    server_version: conn.nc.info?.version ?? null,
    jetstream: {enabled, domain},
    rtt_ms: Math.round(rtt * 100) / 100,
    ...(error ? {error} : {}),
  }
}

/** `site check` over several sites (`--all-sites`, repeated `--site`): one row per site, reachable or not. */
export const SiteChecksResult = z.object({sites: z.array(SiteCheckResult)})
export type SiteChecksResult = z.infer<typeof SiteChecksResult>

/** The row of a site that could not be reached: `connected: false` and the one-line reason. */
export function unreachableSite(site: SiteTarget, url: string, error: UserError): SiteCheckResult {
  return {
    site: site.name,
    url,
    connected: false,
    server_version: null,
    jetstream: {enabled: false, domain: site.js_domain ?? null},
    rtt_ms: null,
    error: error.message,
  }
}
