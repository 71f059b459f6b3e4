import chalk from 'chalk'

import type {SandboxDownResult, SandboxResult} from '../sandbox/sandbox.js'
import {err, out, table, type Terminal} from './terminal.js'
import type {Column} from './table.js'

export async function renderSandbox(term: Terminal, result: SandboxResult): Promise<void> {
  if (result.sites.some((s) => s.nodes.length > 1)) await nodeTable(term, result)
  else await siteTable(term, result)
  for (const s of result.sites) {
    if (!s.capture) continue
    err(
      `${s.name}: dlq capture ${s.capture.running ? chalk.green('running') : chalk.red('not running')} (pid ${s.capture.pid}, log ${s.capture.log_file})`,
    )
  }
  if (result.started && result.started.length === 0) err(`The sandbox in ${result.dir} was already running.`)
  if (result.registered_in) {
    err(`Sites registered in ${result.registered_in}; try: dvctl site check --all-sites`)
  } else {
    err(`Use it with: export DVCTL_CONFIG=${result.config}`)
    err(`        then: dvctl site check --all-sites`)
  }
}

/** One server of the sandbox a row: its site, where it listens, its role and process, its store. */
const SERVER_COLUMNS: Column[] = [
  {header: 'site', min: 6},
  {header: 'url', min: 16},
  {header: 'js_domain', optional: true},
  {header: 'role', fit: 'fixed'},
  {header: 'pid', fit: 'fixed', align: 'right'},
  {header: 'running', fit: 'fixed'},
  {header: 'store_dir', min: 16},
]

async function siteTable(term: Terminal, result: SandboxResult): Promise<void> {
  await table(
    term,
    SERVER_COLUMNS,
    result.sites.map((s) => [
      s.name,
      s.url,
      s.js_domain,
      s.role,
      s.pid,
      s.running ? chalk.green('yes') : chalk.red('no'),
      s.store_dir,
    ]),
  )
}

/** Clustered sites: one row per node, the site's name and role on each. */
async function nodeTable(term: Terminal, result: SandboxResult): Promise<void> {
  await table(
    term,
    [SERVER_COLUMNS[0], {header: 'node', min: 6}, ...SERVER_COLUMNS.slice(1)],
    result.sites.flatMap((s) =>
      s.nodes.map((n) => [
        s.name,
        n.name,
        n.url,
        s.js_domain,
        s.role,
        n.pid,
        n.running ? chalk.green('yes') : chalk.red('no'),
        n.store_dir,
      ]),
    ),
  )
}

export function renderSandboxDown(result: SandboxDownResult): void {
  for (const s of result.stopped) out(`Stopped ${s.name} (pid ${s.pid})`)
  for (const s of result.not_running) out(`${s.name} (pid ${s.pid}) was not running`)
  if (!result.stopped.length && !result.not_running.length) out(`No sandbox in ${result.dir}`)
  if (result.unregistered_from) out(`Removed the sandbox sites from ${result.unregistered_from}`)
  out(result.removed ? `Removed ${result.dir}` : `Kept the state in ${result.dir} (dvctl sandbox up restarts it)`)
}
