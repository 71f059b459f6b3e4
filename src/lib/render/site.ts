import chalk from 'chalk'

import type {SiteConfig} from '../config/file.js'
import type {SiteEntry, SiteListResult, SiteShowResult} from '../config/sites.js'
import type {SiteCheckResult} from '../nats/site-check.js'
import {renderListing, type Listing} from './listing.js'
import {err, out, table, type Terminal} from './terminal.js'

export async function renderSiteChecks(term: Terminal, results: SiteCheckResult[]): Promise<void> {
  const anyError = results.some((r) => !r.connected)
  // At 80 columns: site, url, connected, jetstream, rtt and the error; version, domain and API level as the
  // window allows.
  await table(
    term,
    [
      {header: 'site', min: 8},
      {header: 'url', min: 16},
      {header: 'connected', fit: 'fixed'},
      {header: 'server', fit: 'fixed', optional: true},
      {header: 'jetstream', min: 9},
      {header: 'domain', optional: true},
      {header: 'api_level', fit: 'fixed', optional: true},
      {header: 'rtt', fit: 'fixed', align: 'right'},
      ...(anyError ? [{header: 'error', min: 20}] : []),
    ],
    results.map((r) => [
      r.site,
      r.url,
      r.connected ? chalk.green('yes') : chalk.red('no'),
      r.server_version ?? '-',
      r.jetstream.enabled ? chalk.green('enabled') : r.connected ? chalk.red(r.error ?? 'unavailable') : '-',
      r.jetstream.domain ?? '-',
      r.jetstream.api_level ?? (r.jetstream.enabled ? 'n/a' : '-'),
      r.rtt_ms === null ? '-' : `${r.rtt_ms}ms`,
      // The row already names the site and URL: the cause alone is enough here.
      ...(anyError ? [r.connected ? '' : (r.error ?? '').replace(/^Site \S+ \(\S+\): /, '')] : []),
    ]),
  )
}

/** `site list`'s columns; `*` marks the default site. */
export const SITE_LISTING: Listing<SiteEntry> = [
  {name: 'default', fit: 'fixed', cell: (s) => (s.default ? '*' : ''), sortBy: (s) => (s.default ? 0 : 1)},
  {name: 'site', min: 8, cell: (s) => s.name},
  {name: 'servers', min: 16, cell: (s) => s.servers.join(',')},
  {name: 'js_domain', optional: true, cell: (s) => s.js_domain ?? '-'},
  {name: 'auth', fit: 'fixed', cell: (s) => authKind(s)},
  {name: 'description', min: 12, cell: (s) => s.description ?? ''},
]

export async function renderSiteList(term: Terminal, result: SiteListResult): Promise<void> {
  if (result.sites.length === 0) {
    err(`No sites in ${result.config}. Add one: dvctl site add NAME --server URL (or dvctl site import).`)
    return
  }
  await renderListing(term, SITE_LISTING, result.sites)
}

/** Settings and file paths only: the contents of secret files are never read here. */
export function renderSiteShow(result: SiteShowResult): void {
  const rows: Array<[string, string | undefined]> = [
    ['site', result.name + (result.default ? ' (default)' : '')],
    ['servers', result.servers.join(', ')],
    ['js_domain', result.js_domain],
    ['description', result.description],
    ['creds', result.creds],
    ['nkey', result.nkey],
    ['token_file', result.token_file],
    ['user', result.user],
    ['password_file', result.password_file],
    ['tls.ca', result.tls?.ca],
    ['tls.cert', result.tls?.cert],
    ['tls.key', result.tls?.key],
    ['tls.insecure', result.tls?.insecure === undefined ? undefined : String(result.tls.insecure)],
    ['config', result.config],
  ]
  for (const [key, value] of rows) if (value !== undefined && value !== '') out(`${`${key}:`.padEnd(15)}${value}`)
}

function authKind(site: SiteConfig): string {
  const kinds = [
    site.creds && 'creds',
    site.nkey && 'nkey',
    site.token_file && 'token',
    site.user && 'user',
    site.tls && 'tls',
  ].filter(Boolean)
  return kinds.length ? kinds.join('+') : '-'
}
