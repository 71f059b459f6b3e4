import chalk from 'chalk'

import type {CheckResult, CheckSite, CheckStatus} from '../health/check.js'
import {out, table, type Terminal, formatAge} from './terminal.js'
import {field} from './text.js'

const COLOUR: Record<CheckStatus, (s: string) => string> = {
  ok: chalk.green,
  warning: chalk.yellow,
  critical: chalk.red,
  unknown: chalk.magenta,
}

/** `dvctl check` as text: one row per site, then each finding on its own line, worst first. */
export async function renderCheck(term: Terminal, result: CheckResult): Promise<void> {
  await table(
    term,
    [
      {header: 'site', min: 8},
      {header: 'status', fit: 'fixed'},
      {header: 'dlq', fit: 'fixed', align: 'right'},
      {header: 'oldest', fit: 'fixed'},
      {header: 'max lag', fit: 'fixed', align: 'right'},
      {header: 'stalled', fit: 'fixed', align: 'right'},
      {header: 'sources', min: 10, optional: true},
    ],
    result.sites.map((s) => {
      const snap = s.snapshot
      const lag = snap.consumers.length ? Math.max(...snap.consumers.map((c) => c.pending + c.ack_pending)) : null
      return [
        field(s.site),
        COLOUR[s.status](s.status.toUpperCase()),
        snap.dead_letters ? String(snap.dead_letters.pending) : '-',
        snap.dead_letters?.oldest ? formatAge(snap.dead_letters.oldest.age_ms) : '-',
        lag === null ? '-' : String(lag),
        snap.tasks ? String(snap.tasks.stalled_count) : '-',
        snap.sources.length
          ? field(
              snap.sources.map((x) => `${x.stream}<-${x.source} lag ${x.lag}${x.stalled ? ' stalled' : ''}`).join(', '),
            )
          : '-',
      ]
    }),
  )
  for (const s of result.sites)
    for (const f of s.findings) out(`${COLOUR[f.status](f.status.padEnd(8))} ${field(f.message)}`)
}

/**
 * The Nagios plugin output: one line, `DVCTL <STATUS> - <summary> | <perfdata>`. The summary names the
 * worst findings (or, when all is well, what was checked); network strings in it are made plain (no
 * control characters, no `|`, which would start the perfdata). Perfdata per site: pending dead letters,
 * the oldest one's age, stalled tasks, each consumer's unacknowledged commands and each source's lag, with
 * warning and critical thresholds.
 */
export function nagiosLine(result: CheckResult): string {
  const status = result.status.toUpperCase()
  const findings = result.sites.flatMap((s) => s.findings.filter((f) => f.status !== 'ok'))
  const summary = findings.length
    ? findings
        .slice(0, 3)
        .map((f) => f.message)
        .join('; ') + (findings.length > 3 ? `; and ${findings.length - 3} more` : '')
    : result.sites.map((s) => okSummary(s)).join('; ')
  const perf = result.sites.flatMap((s) => perfdata(s))
  return `DVCTL ${status} - ${plainLine(summary)}${perf.length ? ` | ${perf.join(' ')}` : ''}`
}

function okSummary(s: CheckSite): string {
  const snap = s.snapshot
  return `${s.site}: ${snap.dead_letters?.pending ?? 0} pending dead letters, ${snap.tasks?.stalled_count ?? 0} stalled tasks, ${snap.consumers.length} consumers, ${snap.sources.length} sources`
}

function perfdata(s: CheckSite): string[] {
  const snap = s.snapshot
  const t = s.thresholds
  const p = (label: string, value: number | string, unit = '', warn?: number, crit?: number) =>
    `'${perfLabel(`${s.site} ${label}`)}'=${value}${unit};${warn ?? ''};${crit ?? ''};0`
  const out: string[] = []
  if (!snap.reachable) return out
  if (snap.dead_letters) {
    out.push(p('dlq_pending', snap.dead_letters.pending, '', t.dlq_pending_warn, t.dlq_pending_crit))
    out.push(
      p(
        'dlq_oldest',
        (snap.dead_letters.oldest?.age_ms ?? 0) / 1000,
        's',
        t.dlq_oldest_warn_ms / 1000,
        t.dlq_oldest_crit_ms / 1000,
      ),
    )
  }
  if (snap.tasks) out.push(p('tasks_stalled', snap.tasks.stalled_count))
  for (const c of snap.consumers) out.push(p(`lag ${c.name}`, c.pending + c.ack_pending, '', t.lag_warn, t.lag_crit))
  for (const x of snap.sources)
    out.push(p(`source_lag ${x.stream} ${x.source}`, x.lag, '', t.source_lag_warn, t.source_lag_crit))
  return out
}

/** A perfdata label: no quotes, `=` or control characters (Nagios' rules), spaces as `_`, at most 60. */
function perfLabel(text: string): string {
  return text.replace(/[^A-Za-z0-9_.:/-]+/g, '_').slice(0, 60)
}

/** One plain line: control characters and `|` replaced, so the status line stays one line without perfdata in it. */
export function plainLine(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u001f\u007f-\u009f|]+/g, ' ').slice(0, 1000)
}
