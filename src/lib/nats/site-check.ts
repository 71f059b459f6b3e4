import {z} from 'zod'

import type {SiteTarget} from '../config/site.js'
import type {UserError} from '../errors.js'
import type {SiteConnection} from './connection.js'
import {describeNatsError} from './errors.js'

export const SiteCheckResult = z.object({
  site: z.string(),
  url: z.string(),
  connected: z.boolean(),
  server_version: z.string().nullable(),
  jetstream: z.object({
    enabled: z.boolean(),
    domain: z.string().nullable(),
    /** The JetStream API level (account info `api.level`, nats-server 2.11+); null on older servers. */
    api_level: z.number().nullable(),
  }),
  rtt_ms: z.number().nullable(),
  error: z.string().optional(),
})
export type SiteCheckResult = z.infer<typeof SiteCheckResult>

/** Version, JetStream state and domain, and round-trip time of a connected site. */
export async function checkSite(conn: SiteConnection): Promise<SiteCheckResult> {
  const [rtt, identity] = await Promise.all([conn.nc.rtt(), conn.identity()])
  const error = identity.jetstreamError ? describeNatsError(identity.jetstreamError).error : undefined
  return {
    site: conn.site.name,
    url: conn.url,
    connected: true,
    server_version: identity.serverVersion,
    jetstream: {enabled: identity.jetstream, domain: identity.jsDomain, api_level: identity.apiLevel},
    rtt_ms: Math.round(rtt * 100) / 100,
    ...(error ? {error} : {}),
  }
}

/** `site check` over several sites (`--all-sites`, repeated `--site`): one row per site, reachable or not. */
export const SiteChecksResult = z.object({
  sites: z.array(SiteCheckResult),
  /** Things to know that are not failures: the sites run different nats-server versions. */
  warnings: z.array(z.string()),
})
export type SiteChecksResult = z.infer<typeof SiteChecksResult>

/** A warning when the reachable sites do not all run the same nats-server version (null when they do). */
export function versionMismatch(rows: SiteCheckResult[]): string | null {
  const versions = new Set(rows.map((r) => r.server_version).filter((v): v is string => v !== null))
  if (versions.size < 2) return null
  const each = rows.filter((r) => r.server_version).map((r) => `${r.site} ${r.server_version}`)
  return `The sites run different nats-server versions (${each.join(', ')}): features and layout fields are limited to what the oldest supports`
}

/** The row of a site that could not be reached: `connected: false` and the one-line reason. */
export function unreachableSite(site: SiteTarget, url: string, error: UserError): SiteCheckResult {
  return {
    site: site.name,
    url,
    connected: false,
    server_version: null,
    jetstream: {enabled: false, domain: site.js_domain ?? null, api_level: null},
    rtt_ms: null,
    error: error.message,
  }
}
