import type {MetricFamily, Sample} from '../render/prometheus.js'
import type {CheckSite, CheckStatus} from './check.js'
import type {SiteSnapshot} from './snapshot.js'

/**
 * The metrics of health snapshots (issue 18; docs/operations.md, "Metrics"): what `metrics serve` exposes
 * on `/metrics` and `check --format prometheus` prints. Names are `dvctl_...`, every sample has a `site`
 * label; ages are in seconds. A site that could not be read has `dvctl_site_up 0` and no other samples
 * but its scrape errors: a failing site never fails the scrape.
 */

export interface MetricsSite {
  snapshot: SiteSnapshot
  /** Rounds that failed to read the site or a part of it (monotonic while the process runs). */
  scrape_errors: number
  /** How long the last collection took, in ms. */
  duration_ms?: number
}

const seconds = (ms: number) => Math.round(ms) / 1000

export function healthFamilies(sites: MetricsSite[]): MetricFamily[] {
  const f = (name: string, type: MetricFamily['type'], help: string): MetricFamily => ({name, type, help, samples: []})
  const up = f('dvctl_site_up', 'gauge', 'Whether the site could be read in the last collection (1) or not (0).')
  const errors = f(
    'dvctl_scrape_errors_total',
    'counter',
    'Collections that could not read the site, or a part of it (dead letters, consumers, tasks, streams).',
  )
  const partUp = f('dvctl_read_up', 'gauge', 'Whether each part of the site could be read in the last collection.')
  const duration = f('dvctl_collect_duration_seconds', 'gauge', 'How long the last collection of the site took.')
  const collectedAt = f(
    'dvctl_collect_timestamp_seconds',
    'gauge',
    'When the last collection of the site was taken (Unix time).',
  )
  const pending = f(
    'dvctl_dead_letters_pending',
    'gauge',
    'Pending dead letters (not replayed, not discarded, original present), by stream, consumer and reason.',
  )
  const pendingTotal = f('dvctl_site_dead_letters_pending', 'gauge', 'Pending dead letters of the site.')
  const oldest = f(
    'dvctl_dead_letter_oldest_pending_age_seconds',
    'gauge',
    'Age of the oldest pending dead letter of the site (0 when there is none).',
  )
  const groupOldest = f(
    'dvctl_dead_letters_oldest_age_seconds',
    'gauge',
    'Age of the oldest pending dead letter, by stream, consumer and reason.',
  )
  const advisories = f(
    'dvctl_dead_letter_advisories_read_total',
    'counter',
    'DV_DLQ messages read since the exporter started.',
  )
  const cPending = f('dvctl_consumer_pending_messages', 'gauge', 'Commands not yet delivered by a DV_CMD consumer.')
  const cAck = f(
    'dvctl_consumer_ack_pending_messages',
    'gauge',
    'Commands delivered by a DV_CMD consumer and not yet acknowledged.',
  )
  const cRedelivered = f(
    'dvctl_consumer_redelivered_messages',
    'gauge',
    'Commands a DV_CMD consumer delivered more than once and that are not yet acknowledged.',
  )
  const cDelivery = f(
    'dvctl_consumer_last_delivery_age_seconds',
    'gauge',
    'Since a DV_CMD consumer last delivered a command (absent until it did).',
  )
  const cAckAge = f(
    'dvctl_consumer_last_ack_age_seconds',
    'gauge',
    'Since the ack floor of a DV_CMD consumer last moved (absent until it did).',
  )
  const unacked = f(
    'dvctl_oldest_unacked_command_age_seconds',
    'gauge',
    'Age of the oldest command a DV_CMD consumer has not acknowledged (0 when there is none).',
  )
  const tasks = f('dvctl_tasks', 'gauge', 'Tasks in DV_TASK by their latest state.')
  const stalled = f(
    'dvctl_tasks_stalled',
    'gauge',
    'Running tasks (started or progressing) without an event for longer than the stalled-task threshold.',
  )
  const stalledAfter = f('dvctl_tasks_stalled_threshold_seconds', 'gauge', 'The stalled-task threshold.')
  const sLag = f('dvctl_source_lag_messages', 'gauge', 'Messages a stream sourcing or mirroring another is behind.')
  const sActive = f(
    'dvctl_source_last_active_age_seconds',
    'gauge',
    'Since a source or mirror last received anything (messages or heartbeats).',
  )
  const sStalled = f(
    'dvctl_source_stalled',
    'gauge',
    'Whether a source or mirror is stalled (silent too long, never heard from, or in error).',
  )

  for (const {snapshot: s, scrape_errors, duration_ms} of sites) {
    const site = {site: s.site}
    const add = (family: MetricFamily, value: number, labels: Record<string, string> = {}) =>
      family.samples.push({labels: {...site, ...labels}, value} satisfies Sample)
    add(up, s.reachable ? 1 : 0)
    add(errors, scrape_errors)
    add(collectedAt, Date.parse(s.taken_at) / 1000)
    if (duration_ms !== undefined) add(duration, seconds(duration_ms))
    if (!s.reachable) continue
    const failed = new Set(s.errors.map((e) => e.part))
    for (const part of ['streams', 'dead_letters', 'consumers', 'tasks'] as const)
      add(partUp, failed.has(part) ? 0 : 1, {part})
    const dl = s.dead_letters
    if (dl) {
      add(pendingTotal, dl.pending)
      add(oldest, dl.oldest ? seconds(dl.oldest.age_ms) : 0)
      add(advisories, dl.advisories_read)
      for (const g of dl.groups) {
        const labels = {stream: g.stream, consumer: g.consumer, reason: g.reason}
        add(pending, g.count, labels)
        add(groupOldest, seconds(g.oldest_age_ms), labels)
      }
    }
    if (!failed.has('consumers')) add(unacked, s.oldest_unacked ? seconds(s.oldest_unacked.age_ms) : 0)
    for (const c of s.consumers) {
      const labels = {stream: c.stream, consumer: c.name}
      add(cPending, c.pending, labels)
      add(cAck, c.ack_pending, labels)
      add(cRedelivered, c.redelivered, labels)
      if (c.last_delivery_age_ms != null) add(cDelivery, seconds(c.last_delivery_age_ms), labels)
      if (c.last_ack_age_ms != null) add(cAckAge, seconds(c.last_ack_age_ms), labels)
    }
    if (s.tasks) {
      for (const [state, n] of Object.entries(s.tasks.by_state)) add(tasks, n, {state})
      add(stalled, s.tasks.stalled_count)
      add(stalledAfter, seconds(s.tasks.stalled_after_ms))
    }
    for (const src of s.sources) {
      const labels = {stream: src.stream, source: src.source, kind: src.kind}
      add(sLag, src.lag, labels)
      if (src.active_ms !== null) add(sActive, seconds(src.active_ms), labels)
      add(sStalled, src.stalled ? 1 : 0, labels)
    }
  }
  return [
    up,
    errors,
    partUp,
    duration,
    collectedAt,
    pending,
    pendingTotal,
    oldest,
    groupOldest,
    advisories,
    cPending,
    cAck,
    cRedelivered,
    cDelivery,
    cAckAge,
    unacked,
    tasks,
    stalled,
    stalledAfter,
    sLag,
    sActive,
    sStalled,
  ]
}

const STATUS_VALUE: Record<CheckStatus, number> = {ok: 0, warning: 1, critical: 2, unknown: 3}

/** `check --format prometheus`: the health metrics plus each site's check status. */
export function checkFamilies(sites: CheckSite[]): MetricFamily[] {
  const status: MetricFamily = {
    name: 'dvctl_check_status',
    type: 'gauge',
    help: 'Result of dvctl check per site: 0 ok, 1 warning, 2 critical, 3 unknown.',
    samples: sites.map((s) => ({labels: {site: s.site}, value: STATUS_VALUE[s.status]})),
  }
  const health = healthFamilies(
    sites.map((s) => ({snapshot: s.snapshot, scrape_errors: s.snapshot.error || s.snapshot.errors.length ? 1 : 0})),
  )
  return [status, ...health]
}
