import chalk from 'chalk'

import type {SiteConfig} from '../config/file.js'
import type {SiteListResult, SiteShowResult} from '../config/sites.js'
import type {SiteCheckResult} from '../nats/site-check.js'
import {err, out, table, type Terminal} from './terminal.js'

export async function renderSiteChecks(term: Terminal, results: SiteCheckResult[]): Promise<void> {
  const anyError = results.some((r) => !r.connected)
  await table(
    term,
    ['site', 'url', 'connected', 'server', 'jetstream', 'domain', 'api level', 'rtt', ...(anyError ? ['error'] : [])],
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

export async function renderSiteList(term: Terminal, result: SiteListResult): Promise<void> {
  if (result.sites.length === 0) {
    err(`No sites in ${result.config}. Add one: dvctl site add NAME --server URL (or dvctl site import).`)
    return
  }
  await table(
    term,
    ['', 'site', 'servers', 'js_domain', 'auth', 'description'],
    result.sites.map((s) => [
      s.default ? '*' : '',
      s.name,
      s.servers.join(','),
      s.js_domain ?? '-',
      authKind(s),
      s.description ?? '',
    ]),
  )
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
