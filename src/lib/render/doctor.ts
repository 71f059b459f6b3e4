import chalk from 'chalk'

import type {DoctorResult, DoctorSite} from '../doctor/check.js'
import {err, formatAge, out, table, type Terminal} from './terminal.js'

const yes = (ok: boolean, text = ok ? 'yes' : 'no') => (ok ? chalk.green(text) : chalk.red(text))

/**
 * One table, one row per site; then the problems and warnings, one line each, with their hints. At 80
 * columns: site, up, jetstream, layout, capture (DV_DLQ), consumers, pending dead letters and sources; the
 * oldest unacknowledged command and the server version as the window allows (or `--wide`, or piped).
 * Whether a `dlq capture` runs shows as a problem line when the originals are at risk (dlq_archive in JSON).
 */
export async function renderDoctor(term: Terminal, result: DoctorResult): Promise<void> {
  await table(
    term,
    [
      {header: 'site', min: 8},
      {header: 'up', fit: 'fixed'},
      {header: 'jetstream', min: 9},
      {header: 'layout', min: 8},
      {header: 'capture', fit: 'fixed'},
      {header: 'consumers', min: 12},
      {header: 'dlq', fit: 'fixed', align: 'right'},
      {header: 'oldest', optional: true},
      {header: 'sources', min: 12},
      {header: 'version', fit: 'fixed', optional: true},
    ],
    result.sites.map((s) => [
      s.site,
      yes(s.reachable),
      s.reachable
        ? s.jetstream.enabled
          ? `${chalk.green('enabled')} ${s.jetstream.domain ?? '(no domain)'}`
          : chalk.red('disabled')
        : '-',
      layoutCell(s),
      s.dlq_capture
        ? yes(
            s.dlq_capture.present && s.dlq_capture.missing_subjects.length === 0,
            s.dlq_capture.present ? (s.dlq_capture.missing_subjects.length ? 'incomplete' : 'ok') : 'missing',
          )
        : '-',
      consumersCell(s),
      s.dead_letters_pending === null
        ? '-'
        : s.dead_letters_pending
          ? chalk.yellow(String(s.dead_letters_pending))
          : '0',
      s.oldest_unacked
        ? `${s.oldest_unacked.stream}:${s.oldest_unacked.seq} ${formatAge(s.oldest_unacked.age_ms)}`
        : '-',
      s.sources.length
        ? s.sources
            .map((x) => `${x.stream}<-${x.source} ${x.stalled ? chalk.red('stalled') : 'ok'} lag ${x.lag}`)
            .join(', ')
        : '-',
      s.server_version ?? '-',
    ]),
  )
  for (const s of result.sites) if (s.replication.length) replication(s)
  for (const s of result.sites) {
    for (const p of s.problems) finding(chalk.red('problem'), s, p)
    for (const w of s.warnings) finding(chalk.yellow('warning'), s, w)
  }
  err(result.healthy ? chalk.green('All sites healthy.') : chalk.red('Problems found.'))
}

/** Consumers with a backlog or redeliveries by name; the idle ones only counted, so the row stays short. */
function consumersCell(s: DoctorSite): string {
  if (!s.consumers.length) return '-'
  const busy = s.consumers.filter((c) => c.pending + c.ack_pending + c.redelivered > 0)
  const idle = s.consumers.length - busy.length
  const cells = busy.map((c) => chalk.yellow(`${c.name} ${c.pending + c.ack_pending}/${c.redelivered}`))
  if (idle) cells.push(busy.length ? `${idle} more idle` : `${idle} idle (0/0)`)
  return cells.join(', ')
}

function layoutCell(s: DoctorSite): string {
  if (!s.layout) return '-'
  if (!s.layout.drift) return chalk.green(`${s.layout.name ?? 'layout'} ok`)
  return chalk.red(`drift (${s.layout.changes.length})`)
}

/** Clustered sites: each replicated stream and consumer with its leader and followers, one line each. */
function replication(s: DoctorSite): void {
  for (const g of s.replication) {
    const followers = g.followers.map((f) =>
      f.offline
        ? chalk.red(`${f.name} offline`)
        : f.current && f.lag === 0
          ? `${f.name} current`
          : chalk.yellow(`${f.name} ${f.lag} behind`),
    )
    const leader = g.leader ? `leader ${g.leader}` : chalk.red('no leader')
    out(
      `${s.site} ${g.consumer ? `${g.stream}/${g.consumer}` : g.stream} R${g.replicas}: ${leader}; ${followers.join(', ')}`,
    )
  }
}

function finding(label: string, s: DoctorSite, f: {message: string; hint?: string}): void {
  // A message that names its site already ("Site osl1 (URL): ...") is not prefixed with it again.
  out(f.message.startsWith(`Site ${s.site} `) ? `${label} ${f.message}` : `${label} ${s.site}: ${f.message}`)
  if (f.hint) out(`        ${chalk.dim(f.hint)}`)
}
