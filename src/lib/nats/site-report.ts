import {z} from 'zod'

import type {SiteStatus} from './fanout.js'

/** A site as a reading service reports it (`sites[]` of workflow show, list and count, and contract audit). */
export const SiteReport = z.object({
  site: z.string(),
  error: z.string().optional(),
  /** The error's stable code (`jetstream-unavailable`, `connection-timeout`), for a site reached but not read. */
  code: z.string().optional(),
  missing_streams: z.array(z.string()).optional(),
})
export type SiteReport = z.infer<typeof SiteReport>

/** How reading one site's streams went: streams it lacks, or its one error (and the error's code). */
export interface SiteDrainOutcome {
  site: string
  missing: readonly string[]
  error?: string
  code?: string
}

/** The `sites` of a read: each drained site as it went, then the sites never reached. */
export function siteReports(
  drains: readonly SiteDrainOutcome[],
  unreachable: readonly SiteStatus[] = [],
): SiteReport[] {
  return [
    ...drains.map((r) => ({
      site: r.site,
      ...(r.error ? {error: r.error, ...(r.code ? {code: r.code} : {})} : {}),
      ...(r.missing.length ? {missing_streams: [...r.missing]} : {}),
    })),
    ...unreachable.filter((s) => s.error).map((s) => ({site: s.site, error: s.error})),
  ]
}
