import chalk from 'chalk'

import type {SiteCheckResult} from '../nats/site-check.js'
import {table, type Terminal} from './terminal.js'

export async function renderSiteChecks(term: Terminal, results: SiteCheckResult[]): Promise<void> {
  await table(
    term,
    ['site', 'url', 'connected', 'server', 'jetstream', 'domain', 'rtt'],
    results.map((r) => [
      r.site,
      r.url,
      r.connected ? chalk.green('yes') : chalk.red('no'),
      r.server_version ?? '-',
      r.jetstream.enabled ? chalk.green('enabled') : chalk.red(r.error ?? 'unavailable'),
      r.jetstream.domain ?? '-',
      r.rtt_ms === null ? '-' : `${r.rtt_ms}ms`,
    ]),
  )
}
