import type {SiteTarget} from '../config/site.js'
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

/**
 * Connects to every target concurrently, each bounded by the timeout (DESIGN.md section 3): the
 * reachable ones are returned with the failures beside them; only when none is reachable is it an error (exit 4).
 */
export async function connectSites(targets: SiteTarget[], options: ConnectOptions): Promise<FanOut> {
  const settled = await Promise.allSettled(targets.map((t) => connectSite(t, options)))
  const connections: SiteConnection[] = []
  const failures: UserError[] = []
  const sites: SiteStatus[] = settled.map((s, i) => {
    const target = targets[i]
    const url = target.servers[0] ?? ''
    if (s.status === 'fulfilled') {
      connections.push(s.value)
      return {site: target.name, url}
    }
    const error = connectionError(target, url, s.reason, options.timeoutMs)
    failures.push(error)
    return {site: target.name, url, error: error.message}
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
