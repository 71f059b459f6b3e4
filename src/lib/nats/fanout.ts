import type {SiteTarget} from '../config/site.js'
import {redactUrls} from '../config/url.js'
import {UserError} from '../errors.js'
import {ExitCode} from '../exit-codes.js'
import {connectSite, type ConnectOptions, type SiteConnection} from './connection.js'
import {connectionError} from './errors.js'

/** One selected site and, when it could not be reached, why (`sites[].error` in JSON results). */
export interface SiteStatus {
  site: string
  url: string
  error?: string
}

export interface FanOut {
  connections: SiteConnection[]
  sites: SiteStatus[]
  failures: UserError[]
}

/** One target's outcome: its connection, or the connection error (already a one-line UserError). */
export type SiteAttempt = {target: SiteTarget; url: string} & (
  {conn: SiteConnection; error?: undefined} | {conn?: undefined; error: UserError}
)

/**
 * Dials every target concurrently, each bounded by the timeout, and never throws: for callers that
 * report every site, reachable or not (site check).
 */
export async function attemptSites(targets: SiteTarget[], options: ConnectOptions): Promise<SiteAttempt[]> {
  const settled = await Promise.allSettled(targets.map((t) => connectSite(t, options)))
  return settled.map((s, i) => {
    const target = targets[i]
    const url = redactUrls(target.servers[0] ?? '')
    return s.status === 'fulfilled'
      ? {target, url, conn: s.value}
      : {target, url, error: connectionError(target, url, s.reason, options.timeoutMs)}
  })
}

/**
 * Connects to every target concurrently, each bounded by the timeout (docs/operations.md, "Sites and configuration"): the
 * reachable ones are returned with the failures beside them; only when none is reachable is it an error (exit 4).
 */
export async function connectSites(targets: SiteTarget[], options: ConnectOptions): Promise<FanOut> {
  const attempts = await attemptSites(targets, options)
  const connections: SiteConnection[] = []
  const failures: UserError[] = []
  const sites: SiteStatus[] = attempts.map((a) => {
    if (a.conn) {
      connections.push(a.conn)
      return {site: a.target.name, url: a.url}
    }
    failures.push(a.error)
    return {site: a.target.name, url: a.url, error: a.error.message}
  })
  if (connections.length === 0) {
    const only = failures.length === 1 ? failures[0] : undefined
    throw new UserError(only ? only.message : `No site reachable: ${failures.map((f) => f.message).join('; ')}`, {
      code: only?.code ?? 'all-sites-unavailable',
      exitCode: ExitCode.unavailable,
      hint: only?.hint ?? 'Check each site with dvctl site check --all-sites.',
    })
  }
  return {connections, sites, failures}
}
