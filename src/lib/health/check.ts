import {z} from 'zod'

import type {SiteChecks} from '../config/file.js'
import {parseDuration} from '../duration.js'
import {ExitCode, type ExitCodeValue} from '../exit-codes.js'
import {DEFAULT_STALLED_TASK_MS, SiteSnapshot} from './snapshot.js'

/**
 * `dvctl check`: a health snapshot (snapshot.ts) judged against thresholds (issue 18). A service: the
 * command renders the result as text, JSON, a Nagios status line or Prometheus metrics.
 */

export const CheckStatus = z.enum(['ok', 'warning', 'critical', 'unknown'])
export type CheckStatus = z.infer<typeof CheckStatus>

/** Worst first: a site's and a run's status is the worst of its findings. */
const RANK: Record<CheckStatus, number> = {ok: 0, warning: 1, unknown: 2, critical: 3}
export const worst = (statuses: CheckStatus[]): CheckStatus =>
  statuses.reduce<CheckStatus>((a, b) => (RANK[b] > RANK[a] ? b : a), 'ok')

/** A threshold crossed, a site that could not be read, or a part of it that could not. */
export const CheckFinding = z.object({
  status: CheckStatus,
  code: z.string(),
  message: z.string(),
})
export type CheckFinding = z.infer<typeof CheckFinding>

/** Thresholds as numbers: counts are crossed when the value is above them; durations in ms. */
export const Thresholds = z.object({
  dlq_pending_warn: z.number(),
  dlq_pending_crit: z.number(),
  dlq_oldest_warn_ms: z.number(),
  dlq_oldest_crit_ms: z.number(),
  lag_warn: z.number(),
  lag_crit: z.number(),
  stalled_task_ms: z.number(),
  source_lag_warn: z.number(),
  source_lag_crit: z.number(),
})
export type Thresholds = z.infer<typeof Thresholds>

/**
 * Built-in thresholds: any pending dead letter warns, more than 100 is critical; the oldest one warns after
 * an hour and is critical after a day; a consumer with more than 100 (1,000) unacknowledged commands; a
 * task running without an event for 5 minutes; a source more than 100 (1,000) messages behind.
 */
export const DEFAULT_THRESHOLDS: Thresholds = {
  dlq_pending_warn: 0,
  dlq_pending_crit: 100,
  dlq_oldest_warn_ms: 3_600_000,
  dlq_oldest_crit_ms: 86_400_000,
  lag_warn: 100,
  lag_crit: 1000,
  stalled_task_ms: DEFAULT_STALLED_TASK_MS,
  source_lag_warn: 100,
  source_lag_crit: 1000,
}

/** Flags override the site's `checks:` in the config file, which override the defaults. */
export function thresholdsFor(site: SiteChecks | undefined, flags: Partial<Thresholds>): Thresholds {
  const fromConfig: Partial<Thresholds> = {}
  if (site) {
    const c = site
    const ms = (v: string | undefined) => (v === undefined ? undefined : parseDuration(v))
    Object.assign(
      fromConfig,
      defined({
        dlq_pending_warn: c.dlq_pending_warn,
        dlq_pending_crit: c.dlq_pending_crit,
        dlq_oldest_warn_ms: ms(c.dlq_oldest_warn),
        dlq_oldest_crit_ms: ms(c.dlq_oldest_crit),
        lag_warn: c.lag_warn,
        lag_crit: c.lag_crit,
        stalled_task_ms: ms(c.stalled_task),
        source_lag_warn: c.source_lag_warn,
        source_lag_crit: c.source_lag_crit,
      }),
    )
  }
  return {...DEFAULT_THRESHOLDS, ...fromConfig, ...defined(flags)}
}

function defined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>
}

export const CheckSite = z.object({
  site: z.string(),
  url: z.string(),
  status: CheckStatus,
  findings: z.array(CheckFinding),
  thresholds: Thresholds,
  snapshot: SiteSnapshot,
})
export type CheckSite = z.infer<typeof CheckSite>

/** `dvctl check --json`. */
export const CheckResult = z.object({status: CheckStatus, sites: z.array(CheckSite)})
export type CheckResult = z.infer<typeof CheckResult>

/**
 * Judges one snapshot: an unreachable site is critical; a part that could not be read is unknown; then
 * each threshold (above the critical one: critical; above the warning one: warning). A stalled task warns;
 * a cross-site source that stalled (silent, in error) is critical.
 */
export function evaluateSite(snapshot: SiteSnapshot, t: Thresholds): CheckSite {
  const findings: CheckFinding[] = []
  const site = snapshot.site
  const add = (status: CheckStatus, code: string, message: string) => findings.push({status, code, message})
  const level = (value: number, warn: number, crit: number): CheckStatus | undefined =>
    value > crit ? 'critical' : value > warn ? 'warning' : undefined

  if (!snapshot.reachable) {
    add('critical', 'site-unreachable', snapshot.error ?? `${site} could not be read`)
  } else {
    for (const e of snapshot.errors) add('unknown', `${e.part.replace('_', '-')}-unreadable`, e.message)
  }
  const dl = snapshot.dead_letters
  if (dl) {
    const s = level(dl.pending, t.dlq_pending_warn, t.dlq_pending_crit)
    if (s) {
      const groups = dl.groups
        .slice(0, 5)
        .map((g) => `${g.stream}/${g.consumer} ${g.reason} ${g.count}`)
        .join(', ')
      add(
        s,
        'dlq-pending',
        `${site}: ${dl.pending} pending dead letter(s) (${s === 'critical' ? 'critical above' : 'warning above'} ${s === 'critical' ? t.dlq_pending_crit : t.dlq_pending_warn}): ${groups}`,
      )
    }
    if (dl.oldest) {
      const o = level(dl.oldest.age_ms, t.dlq_oldest_warn_ms, t.dlq_oldest_crit_ms)
      if (o)
        add(
          o,
          'dlq-oldest',
          `${site}: oldest pending dead letter ${dl.oldest.ref} (${dl.oldest.consumer}) is ${seconds(dl.oldest.age_ms)} old`,
        )
    }
  }
  for (const c of snapshot.consumers) {
    const lag = c.pending + c.ack_pending
    const s = level(lag, t.lag_warn, t.lag_crit)
    if (s) add(s, 'consumer-lag', `${site}: consumer ${c.stream}/${c.name} has ${lag} unacknowledged command(s)`)
  }
  if (snapshot.tasks && snapshot.tasks.stalled_count > 0) {
    const first = snapshot.tasks.stalled[0]
    add(
      'warning',
      'task-stalled',
      `${site}: ${snapshot.tasks.stalled_count} stalled task(s) (running, no event for ${seconds(t.stalled_task_ms)}), e.g. ${first.task_id} (${first.service ?? 'unknown service'}, ${first.state} ${seconds(first.idle_ms)} ago)`,
    )
  }
  for (const src of snapshot.sources) {
    const s = level(src.lag, t.source_lag_warn, t.source_lag_crit)
    if (s) add(s, 'source-lag', `${site}: ${src.kind} ${src.source} of ${src.stream} is ${src.lag} message(s) behind`)
    if (src.stalled) {
      add(
        'critical',
        'source-stalled',
        `${site}: ${src.kind} ${src.source} of ${src.stream} ${src.active_ms === null ? 'has never received anything' : `silent for ${seconds(src.active_ms)}`}${src.error ? `: ${src.error}` : ''}`,
      )
    }
  }
  findings.sort((a, b) => RANK[b.status] - RANK[a.status])
  return {
    site,
    url: snapshot.url,
    status: worst(findings.map((f) => f.status)),
    findings,
    thresholds: t,
    snapshot,
  }
}

export function checkResult(sites: CheckSite[]): CheckResult {
  return {status: worst(sites.map((s) => s.status)), sites}
}

/**
 * Exit code of `check` in text and JSON (docs/operations.md, exit codes): 4 when a site could not be read
 * (unreachable, or a part of it unreadable), 10 when a threshold is crossed, else 0.
 */
export function checkExitCode(result: CheckResult): ExitCodeValue {
  if (result.sites.some((s) => !s.snapshot.reachable || s.snapshot.errors.length > 0)) return ExitCode.unavailable
  if (result.status !== 'ok') return ExitCode.drift
  return ExitCode.ok
}

/** Nagios plugin exit codes (deliberately not the table of exit-codes.ts: Nagios reads these four). */
export const NAGIOS_EXIT: Record<CheckStatus, number> = {ok: 0, warning: 1, critical: 2, unknown: 3}

function seconds(ms: number): string {
  const s = Math.round(ms / 1000)
  if (s < 120) return `${s}s`
  if (s < 7200) return `${Math.round(s / 60)}m`
  return `${Math.round(s / 3600)}h`
}
