import type {StreamInfo, StreamSourceInfo} from '@nats-io/jetstream'
import {z} from 'zod'

import type {SiteTarget} from '../config/site.js'
import {filterCovers} from '../contract/match.js'
import type {UserError} from '../errors.js'
import {ExitCode, type ExitCodeValue} from '../exit-codes.js'
import {type CaptureHeartbeat, isFresh, readHeartbeats} from '../dlq/capture.js'
import {formatDuration} from '../duration.js'
import {DLQ_ADVISORY_SUBJECTS, DLQ_ARCHIVE_STREAM, STREAMS} from '../layout/names.js'
import {hasChanges} from '../layout/plan.js'
import type {Layout} from '../layout/schema.js'
import type {SiteConnection} from '../nats/connection.js'
import {describeNatsError} from '../nats/errors.js'
import {compareText} from '../order.js'

/** Something found on a site: a problem (exit 10) or a warning (reported, exit 0). */
export const Finding = z.object({code: z.string(), message: z.string(), hint: z.string().optional()})
export type Finding = z.infer<typeof Finding>

export const ConsumerHealth = z.object({
  stream: z.string(),
  name: z.string(),
  filter_subject: z.string().nullable(),
  /** Messages not yet delivered. */
  pending: z.number(),
  /** Delivered and not yet acknowledged. */
  ack_pending: z.number(),
  /** Messages delivered more than once and not yet acknowledged. */
  redelivered: z.number(),
  /** Since the consumer last delivered a message; null when it never did or the server does not say. */
  last_delivery_age_ms: z.number().nullable().optional(),
  /** Since its ack floor last moved; null when nothing was acknowledged or the server does not say. */
  last_ack_age_ms: z.number().nullable().optional(),
})
export type ConsumerHealth = z.infer<typeof ConsumerHealth>

export const SourceHealth = z.object({
  stream: z.string(),
  /** The sourced (or mirrored) stream, with the JetStream API prefix it is read through when remote. */
  source: z.string(),
  api: z.string().nullable(),
  kind: z.enum(['source', 'mirror']),
  lag: z.number(),
  /** Since the source last received anything (messages or heartbeats); null when it never did. */
  active_ms: z.number().nullable(),
  stalled: z.boolean(),
  error: z.string().nullable(),
})
export type SourceHealth = z.infer<typeof SourceHealth>

/** One member of a replicated stream's or consumer's RAFT group, other than its leader. */
export const ReplicaHealth = z.object({
  name: z.string(),
  current: z.boolean(),
  /** The group considers it offline, or it has not been heard from for REPLICA_SILENT_MS (2.9 never says offline). */
  offline: z.boolean(),
  /** Since it was last heard from; null when the server does not say. */
  active_ms: z.number().nullable(),
  /** Operations behind the leader. */
  lag: z.number(),
})
export type ReplicaHealth = z.infer<typeof ReplicaHealth>

/** Leader and replicas of one replicated stream (consumer null) or one of its durable consumers. */
export const ReplicationHealth = z.object({
  stream: z.string(),
  consumer: z.string().nullable(),
  replicas: z.number(),
  /** Server name of the RAFT leader; null while none is elected. */
  leader: z.string().nullable(),
  followers: z.array(ReplicaHealth),
})
export type ReplicationHealth = z.infer<typeof ReplicationHealth>

/** One site's row of `dvctl doctor`. */
export const DoctorSite = z.object({
  site: z.string(),
  url: z.string(),
  reachable: z.boolean(),
  error: z.string().optional(),
  server_version: z.string().nullable(),
  jetstream: z.object({enabled: z.boolean(), domain: z.string().nullable()}),
  layout: z
    .object({
      name: z.string().nullable(),
      drift: z.boolean(),
      changes: z.array(
        z.object({kind: z.string(), name: z.string(), stream: z.string().optional(), action: z.string()}),
      ),
    })
    .nullable(),
  /** DV_DLQ stores both dead-letter advisories (docs/operations.md, dead letters). */
  dlq_capture: z.object({present: z.boolean(), missing_subjects: z.array(z.string())}).nullable(),
  /**
   * Whether dead letters' originals are kept (docs/operations.md, "Keeping dead letters' originals"): the
   * archive stream, the freshest `dlq capture` heartbeat, and whether originals are at risk (DV_CMD keeps
   * commands for less time than DV_DLQ keeps dead letters, and no capture is running).
   */
  dlq_archive: z
    .object({
      present: z.boolean(),
      capture_running: z.boolean(),
      last_heartbeat: z.string().nullable(),
      originals_at_risk: z.boolean(),
    })
    .nullable(),
  consumers: z.array(ConsumerHealth),
  dead_letters_pending: z.number().nullable(),
  oldest_unacked: z
    .object({stream: z.string(), consumer: z.string(), seq: z.number(), time: z.string(), age_ms: z.number()})
    .nullable(),
  sources: z.array(SourceHealth),
  /** Streams with more than one replica, and their durable consumers (a clustered site); empty otherwise. */
  replication: z.array(ReplicationHealth),
  problems: z.array(Finding),
  warnings: z.array(Finding),
})
export type DoctorSite = z.infer<typeof DoctorSite>

/** `dvctl doctor --json`. */
export const DoctorResult = z.object({healthy: z.boolean(), sites: z.array(DoctorSite)})
export type DoctorResult = z.infer<typeof DoctorResult>

export interface DoctorOptions {
  /** The layout drift is judged against (the built-in dataverket layout by default). */
  layout?: Layout
  /** A cross-site source silent for longer than this is stalled (default 5s; healthy sources hear heartbeats every second). */
  stallAfterMs?: number
  now?: Date
}

const DEFAULT_STALL_AFTER_MS = 5000
/**
 * A follower silent this long is reported offline: nats-server 2.9 marks a killed peer not current, never
 * offline, and 2.15 flags it offline only once the cluster has given up on the server.
 */
const REPLICA_SILENT_MS = 10_000

/** The row of a site that could not be reached. */
export function unreachableDoctorSite(target: SiteTarget, url: string, error: UserError): DoctorSite {
  return {
    ...emptySite(target.name, url),
    error: error.message,
    problems: [{code: error.code, message: error.message, ...(error.hint ? {hint: error.hint} : {})}],
  }
}

/**
 * Checks one connected site: server and JetStream, layout drift, the dead-letter capture stream, service
 * consumers' backlogs, pending dead letters, the oldest unacknowledged command, and cross-site sources.
 * Each part is checked on its own, so one failing read is reported and the others still run.
 */
export async function checkSiteHealth(conn: SiteConnection, options: DoctorOptions = {}): Promise<DoctorSite> {
  const now = options.now ?? new Date()
  const row: DoctorSite = {...emptySite(conn.site.name, conn.url), reachable: true}
  const identity = await conn.identity()
  row.server_version = identity.serverVersion
  row.jetstream = {enabled: identity.jetstream, domain: identity.jsDomain}
  if (identity.jetstreamError) {
    const described = describeNatsError(identity.jetstreamError).error
    // "JetStream is not available" says JetStream once, not "JetStream: JetStream is ...".
    const detail = /^JetStream\b/.test(described) ? described : `JetStream: ${described}`
    row.error = detail
    row.problems.push({
      code: 'jetstream-unavailable',
      message: `Site ${conn.site.name} (${conn.url}): ${detail}`,
      hint: "Start the server with JetStream (nats-server -js), or set the site's js_domain.",
    })
    return row
  }
  const jsm = await conn.jsm()

  const streams: StreamInfo[] = []
  try {
    for await (const info of jsm.streams.list()) streams.push(info)
  } catch (error) {
    const detail = describeNatsError(error).error
    row.problems.push({code: 'streams-unreadable', message: `Streams of ${row.site} could not be listed: ${detail}`})
    return row
  }

  await Promise.all([
    checkLayout(conn, row, options.layout),
    checkConsumers(conn, row, streams, now),
    checkDeadLetters(conn, row, streams),
    checkOriginalsKept(conn, row, streams, now),
    checkReplication(conn, row, streams),
  ])
  checkSources(row, streams, options.stallAfterMs ?? DEFAULT_STALL_AFTER_MS)
  return row
}

/** Exit code of a doctor run: 4 when a site is unreachable (or has no JetStream), 10 for other problems. */
export function doctorExitCode(result: DoctorResult): ExitCodeValue {
  if (result.sites.some((s) => !s.reachable || !s.jetstream.enabled)) return ExitCode.unavailable
  if (result.sites.some((s) => s.problems.length > 0)) return ExitCode.drift
  return ExitCode.ok
}

function emptySite(site: string, url: string): DoctorSite {
  return {
    site,
    url,
    reachable: false,
    server_version: null,
    jetstream: {enabled: false, domain: null},
    layout: null,
    dlq_capture: null,
    dlq_archive: null,
    consumers: [],
    dead_letters_pending: null,
    oldest_unacked: null,
    sources: [],
    replication: [],
    problems: [],
    warnings: [],
  }
}

async function checkLayout(conn: SiteConnection, row: DoctorSite, layout: Layout | undefined): Promise<void> {
  try {
    const {planSite} = await import('../layout/apply.js')
    const {plan} = await planSite(conn, layout)
    const changes = plan.changes
      .filter((c) => c.action !== 'noop')
      .map((c) => ({kind: c.kind, name: c.name, ...(c.stream ? {stream: c.stream} : {}), action: c.action}))
    row.layout = {name: plan.layout, drift: hasChanges(plan), changes}
    if (row.layout.drift) {
      const listed = changes.map((c) => `${c.action} ${c.kind} ${c.stream ? `${c.stream}/` : ''}${c.name}`)
      row.problems.push({
        code: 'layout-drift',
        message: `Layout ${plan.layout ?? ''} drift on ${row.site}: ${listed.slice(0, 6).join(', ')}${listed.length > 6 ? `, and ${listed.length - 6} more` : ''}`,
        hint: `See the details with dvctl layout plan, fix with dvctl layout apply.`,
      })
    }
  } catch (error) {
    row.problems.push({
      code: 'layout-unreadable',
      message: `Layout could not be checked: ${describeNatsError(error).error}`,
    })
  }
}

async function checkDeadLetters(conn: SiteConnection, row: DoctorSite, streams: StreamInfo[]): Promise<void> {
  const dlq = streams.find((s) => s.config.name === STREAMS.dlq)
  if (!dlq) {
    row.dlq_capture = {present: false, missing_subjects: [...DLQ_ADVISORY_SUBJECTS]}
    row.problems.push({
      code: 'dlq-capture-missing',
      message: `No ${STREAMS.dlq} stream on ${row.site}: dead letters are not captured (the advisories are lost)`,
      hint: 'Create it with dvctl layout apply.',
    })
    return
  }
  const subjects = dlq.config.subjects ?? []
  const missing = DLQ_ADVISORY_SUBJECTS.filter((want) => !subjects.some((have) => filterCovers(have, want)))
  row.dlq_capture = {present: true, missing_subjects: missing}
  if (missing.length) {
    row.problems.push({
      code: 'dlq-capture-incomplete',
      message: `${STREAMS.dlq} on ${row.site} does not capture ${missing.join(', ')}`,
      hint: 'Restore its subjects with dvctl layout apply.',
    })
  }
  try {
    const {readDeadLetters} = await import('../dlq/read.js')
    const pending = await readDeadLetters(conn, {qualified: false, status: 'pending'})
    row.dead_letters_pending = pending.length
    if (pending.length) {
      row.warnings.push({
        code: 'dead-letters-pending',
        message: `${pending.length} pending dead letter(s) on ${row.site}`,
        hint: 'Inspect them with dvctl dlq list, then replay or discard them.',
      })
    }
  } catch (error) {
    row.warnings.push({
      code: 'dlq-unreadable',
      message: `Dead letters could not be read: ${describeNatsError(error).error}`,
    })
  }
}

/**
 * A dead letter outlives its original when DV_CMD drops commands before DV_DLQ drops advisories (max_age;
 * 0 is unlimited): unless `dlq capture` copies each original into the archive, such a dead letter can
 * still be listed but never replayed. That is a problem (exit 10) while no capture heartbeat is fresh.
 */
async function checkOriginalsKept(conn: SiteConnection, row: DoctorSite, streams: StreamInfo[], now: Date) {
  const cmd = streams.find((s) => s.config.name === STREAMS.cmd)
  const dlq = streams.find((s) => s.config.name === STREAMS.dlq)
  if (!cmd || !dlq) return
  const cmdAge = (cmd.config.max_age ?? 0) / 1e6
  const dlqAge = (dlq.config.max_age ?? 0) / 1e6
  const shorter = cmdAge > 0 && (dlqAge === 0 || cmdAge < dlqAge)
  let beats: CaptureHeartbeat[] | null = null
  try {
    beats = await readHeartbeats(conn)
  } catch (error) {
    row.warnings.push({
      code: 'capture-heartbeat-unreadable',
      message: `The dlq capture heartbeats could not be read: ${describeNatsError(error).error}`,
    })
  }
  const running = (beats ?? []).some((b) => isFresh(b, now.getTime()))
  const last = beats?.[0] ?? null
  row.dlq_archive = {
    present: streams.some((s) => s.config.name === DLQ_ARCHIVE_STREAM),
    capture_running: running,
    last_heartbeat: last?.at ?? null,
    originals_at_risk: shorter && !running,
  }
  if (!shorter || running) return
  const heard = last ? `its last heartbeat was at ${last.at} (${last.state})` : 'none has ever run there'
  row.problems.push({
    code: 'dlq-originals-at-risk',
    message: `${STREAMS.cmd} on ${row.site} keeps commands for ${formatDuration(cmdAge)} and ${STREAMS.dlq} keeps dead letters for ${dlqAge ? formatDuration(dlqAge) : 'ever'}, but no dlq capture is running (${heard}): older dead letters lose their originals and can no longer be replayed`,
    hint: `Run dvctl dlq capture on the site (docs/operations.md shows a systemd unit), or let ${STREAMS.cmd} keep commands at least as long as ${STREAMS.dlq}.`,
  })
}

async function checkConsumers(conn: SiteConnection, row: DoctorSite, streams: StreamInfo[], now: Date): Promise<void> {
  if (!streams.some((s) => s.config.name === STREAMS.cmd)) return
  try {
    await readConsumers(conn, row, now)
  } catch (error) {
    row.warnings.push({
      code: 'consumers-unreadable',
      message: `Consumers of ${STREAMS.cmd} could not be read: ${describeNatsError(error).error}`,
    })
  }
}

/** The oldest unacknowledged command of a site's service consumers (`doctor`'s oldest_unacked). */
export type OldestUnacked = NonNullable<DoctorSite['oldest_unacked']>

/**
 * The durable consumers of DV_CMD with their backlogs and last delivery/ack ages, sorted by name, and the
 * oldest command one of them has not acknowledged. Shared by `doctor` and the health snapshot
 * (health/snapshot.ts: `check`, `metrics serve`, `top`). Throws what the server answers.
 */
export async function readConsumerHealth(
  conn: SiteConnection,
  now: Date,
): Promise<{consumers: ConsumerHealth[]; oldest: OldestUnacked | null}> {
  const jsm = await conn.jsm()
  const consumers: ConsumerHealth[] = []
  const oldest: OldestUnacked[] = []
  for await (const ci of jsm.consumers.list(STREAMS.cmd)) {
    if (!ci.config.durable_name) continue
    const filter = ci.config.filter_subject ?? null
    consumers.push({
      stream: STREAMS.cmd,
      name: ci.name,
      filter_subject: filter,
      pending: ci.num_pending,
      ack_pending: ci.num_ack_pending,
      redelivered: ci.num_redelivered,
      last_delivery_age_ms: ageOf(ci.delivered?.last_active, now),
      last_ack_age_ms: ageOf(ci.ack_floor?.last_active, now),
    })
    if (ci.num_pending + ci.num_ack_pending === 0) continue
    // The first message after the ack floor that the consumer's filter selects: its oldest unacknowledged command.
    const query = {seq: ci.ack_floor.stream_seq + 1, ...(filter ? {next_by_subj: filter} : {})}
    const msg = await jsm.streams.getMessage(STREAMS.cmd, query as {seq: number}).catch(() => null)
    if (msg) {
      oldest.push({
        stream: STREAMS.cmd,
        consumer: ci.name,
        seq: msg.seq,
        time: msg.time.toISOString(),
        age_ms: now.getTime() - msg.time.getTime(),
      })
    }
  }
  consumers.sort((a, b) => compareText(a.name, b.name))
  oldest.sort((a, b) => b.age_ms - a.age_ms)
  return {consumers, oldest: oldest[0] ?? null}
}

/**
 * A `last_active` of consumer info as an age: the server sends a time (RFC 3339); absent, or the zero
 * time, when nothing was delivered (acknowledged) yet: null.
 */
function ageOf(lastActive: unknown, now: Date): number | null {
  if (typeof lastActive !== 'string') return null
  const at = Date.parse(lastActive)
  if (!Number.isFinite(at) || at <= 0) return null
  return Math.max(0, now.getTime() - at)
}

async function readConsumers(conn: SiteConnection, row: DoctorSite, now: Date): Promise<void> {
  const {consumers, oldest} = await readConsumerHealth(conn, now)
  row.consumers = consumers
  row.oldest_unacked = oldest
  const backlog = row.consumers.filter((c) => c.pending + c.ack_pending > 0)
  if (backlog.length) {
    const o = row.oldest_unacked
    row.warnings.push({
      code: 'consumer-backlog',
      message: `Unacknowledged commands on ${row.site}: ${backlog.map((c) => `${c.name} ${c.pending + c.ack_pending}`).join(', ')}${o ? `; oldest ${o.stream}:${o.seq} (${o.consumer}) since ${o.time}` : ''}`,
      hint: 'Are the workers of these services running?',
    })
  }
}

/**
 * Leader and followers of every replicated stream and of its durable consumers (stream and consumer info
 * `cluster`): an offline or lagging follower, or a group without a leader, is a warning (the site still
 * serves while a quorum is up).
 */
async function checkReplication(conn: SiteConnection, row: DoctorSite, streams: StreamInfo[]): Promise<void> {
  const replicated = streams.filter((s) => (s.config.num_replicas ?? 1) > 1)
  if (!replicated.length) return
  const jsm = await conn.jsm()
  for (const s of replicated) {
    const groups: ReplicationHealth[] = [replicationOf(s.config.name, null, s.config.num_replicas, s.cluster)]
    try {
      for await (const ci of jsm.consumers.list(s.config.name)) {
        if (!ci.config.durable_name) continue
        const replicas = ci.config.num_replicas || s.config.num_replicas
        groups.push(replicationOf(s.config.name, ci.name, replicas, ci.cluster))
      }
    } catch (error) {
      row.warnings.push({
        code: 'consumers-unreadable',
        message: `Consumers of ${s.config.name} could not be read: ${describeNatsError(error).error}`,
      })
    }
    for (const g of groups) {
      row.replication.push(g)
      const what = g.consumer ? `consumer ${g.stream}/${g.consumer}` : `stream ${g.stream}`
      if (!g.leader) {
        row.warnings.push({
          code: 'replica-no-leader',
          message: `${what} on ${row.site} has no leader (R${g.replicas}): it is electing one, or too few of its servers are up`,
          hint: 'Check the cluster: dvctl sandbox status, or nats server report jetstream.',
        })
      }
      const offline = g.followers.filter((f) => f.offline)
      const lagging = g.followers.filter((f) => !f.offline && (!f.current || f.lag > 0))
      if (offline.length) {
        row.warnings.push({
          code: 'replica-offline',
          message: `${what} on ${row.site}: replica ${offline.map((f) => `${f.name}${f.active_ms === null ? '' : ` (silent ${Math.round(f.active_ms / 1000)}s)`}`).join(', ')} offline; leader ${g.leader ?? 'none'}`,
          hint: 'Restart that server; it catches up from the leader when it returns.',
        })
      }
      if (lagging.length) {
        row.warnings.push({
          code: 'replica-lagging',
          message: `${what} on ${row.site}: replica ${lagging.map((f) => `${f.name} (${f.lag} behind${f.current ? '' : ', not current'})`).join(', ')}; leader ${g.leader ?? 'none'}`,
          hint: 'A follower catching up after a restart is normal; one that stays behind points at that server.',
        })
      }
    }
  }
}

function replicationOf(
  stream: string,
  consumer: string | null,
  replicas: number,
  cluster: StreamInfo['cluster'],
): ReplicationHealth {
  return {
    stream,
    consumer,
    replicas,
    leader: cluster?.leader || null,
    followers: (cluster?.replicas ?? []).map((p) => {
      const activeMs = typeof p.active === 'number' && p.active > 0 ? Math.round(p.active / 1e6) : null
      return {
        name: p.name,
        current: Boolean(p.current),
        // A leader elected after a peer died has never heard from it: not current, no last-seen time (and
        // no offline flag after a kill -9), so that counts as offline too.
        offline:
          Boolean(p.offline) ||
          (activeMs !== null && activeMs > REPLICA_SILENT_MS) ||
          (!p.current && activeMs === null),
        active_ms: activeMs,
        lag: p.lag ?? 0,
      }
    }),
  }
}

/**
 * Every stream that sources or mirrors another, with its lag and how long the link has been silent: stalled
 * when silent for longer than `stallAfterMs`, never heard from, or in error. Shared by `doctor` and the
 * health snapshot (health/snapshot.ts).
 */
export function sourceHealth(streams: StreamInfo[], stallAfterMs: number): SourceHealth[] {
  const out: SourceHealth[] = []
  for (const s of streams) {
    const links: Array<[StreamSourceInfo, 'source' | 'mirror']> = [
      ...(s.sources ?? []).map((x) => [x, 'source'] as [StreamSourceInfo, 'source']),
      ...(s.mirror ? [[s.mirror, 'mirror'] as [StreamSourceInfo, 'mirror']] : []),
    ]
    for (const [info, kind] of links) {
      const activeMs = info.active >= 0 ? Math.round(info.active / 1e6) : null
      const error = info.error ? `${info.error.description ?? ''} (${info.error.code ?? ''})`.trim() : null
      const stalled = activeMs === null || activeMs > stallAfterMs || error !== null
      const api = (info as {external?: {api?: string}}).external?.api ?? null
      out.push({
        stream: s.config.name,
        source: info.name,
        api,
        kind,
        lag: info.lag,
        active_ms: activeMs,
        stalled,
        error,
      })
    }
  }
  return out
}

function checkSources(row: DoctorSite, streams: StreamInfo[], stallAfterMs: number): void {
  for (const source of sourceHealth(streams, stallAfterMs)) {
    row.sources.push(source)
    const {kind, api, error, stalled} = source
    const activeMs = source.active_ms
    if (stalled) {
      const silent =
        activeMs === null ? 'has never received anything' : `has been silent for ${Math.round(activeMs / 1000)}s`
      row.problems.push({
        code: 'source-stalled',
        message: `${kind === 'mirror' ? 'Mirror' : 'Source'} ${source.source}${api ? ` (${api})` : ''} of ${source.stream} on ${row.site} ${silent}, ${source.lag} message(s) behind${error ? `: ${error}` : ''}`,
        hint: 'Check the link to the other site (leaf-node connection, its server): dvctl site check --all-sites.',
      })
    }
  }
}
