import {z} from 'zod'

import {typeMatcher} from '../contract/match.js'
import {STREAMS} from '../layout/names.js'
import type {SiteConnection} from '../nats/connection.js'
import type {SiteStatus} from '../nats/fanout.js'
import type {ScanWindow, StoredMessage} from '../nats/reader.js'
import {taskEventVerb} from '../tasks/board.js'
import {parseAdvisory, toDeadLetter, type Advisory} from './dead-letters.js'
import {
  causationOf,
  drainSite,
  messageTime,
  parseStored,
  WORKFLOW_STREAMS,
  workflowEnvelope,
  WorkflowResult,
} from './read.js'
import {
  DEFAULT_MAX_WORKFLOWS,
  DEFAULT_STALLED_AFTER_MS,
  GROUP_BY_KEYS,
  WORKFLOW_LIST_STATUSES,
  WorkflowFold,
  type WorkflowGroupKey,
  type WorkflowListStatus,
} from './state.js'

/**
 * `workflow list` and `workflow count` (docs/operations.md, "Finding workflows"): every correlation of a
 * window, read once through the one stream reader and folded message by message through the one workflow
 * reducer (state.ts, the one `workflow show` uses). What is kept per correlation is a compact summary (times,
 * root, tenant, services, sites, counts and the fold's task states), never the messages, so memory grows with
 * the number of distinct correlations in the window, not with the number of messages; `maxWorkflows` caps it.
 */

/** Longest correlation id, type, tenant or service name kept (ids are UUIDs; anything longer is hostile). */
const MAX_TEXT = 256
/** Most services remembered per workflow (`--service` matches any of them). */
const MAX_SERVICES = 16

export const WorkflowSummarySchema = z.object({
  correlation_id: z.string(),
  status: z.enum(WORKFLOW_LIST_STATUSES),
  /** The earliest message without causation_id (usually the command that started the workflow). */
  root: z
    .object({
      id: z.string(),
      type: z.string().nullable(),
      subject: z.string(),
      site: z.string(),
      /** The service the root was addressed to (`dv.<service>.…`), else its envelope source. */
      service: z.string().nullable(),
    })
    .nullable(),
  tenant_id: z.string().nullable(),
  /** Services that took part: those addressed in subjects and those that emitted messages (envelope source). */
  services: z.array(z.string()),
  first: z.string(),
  last: z.string(),
  sites: z.array(z.string()),
  /** How many tasks are in each state. */
  tasks: z.record(z.string(), z.number()),
  dead_letters: z.number(),
  /** Messages read, copies included. */
  messages: z.number(),
  /** The last event of the task that stalled (status stalled), else null. */
  stalled_since: z.string().nullable(),
})
export type WorkflowSummary = z.infer<typeof WorkflowSummarySchema>

const ScanFields = {
  sites: WorkflowResult.shape.sites,
  window: z.object({from: z.string().nullable(), to: z.string().nullable()}),
  stalled_after_ms: z.number(),
  /** Workflows seen in the window, before the filters. */
  seen: z.number(),
  scanned: z.number(),
  /** Set when --max-workflows was reached: later workflows were not tracked, and the figures are short. */
  truncated: z.object({max_workflows: z.number(), untracked_messages: z.number()}).nullable(),
}

/** `workflow list --json`. */
export const WorkflowListResult = z.object({
  ...ScanFields,
  /** Workflows that match the filters (before --limit). */
  total: z.number(),
  workflows: z.array(WorkflowSummarySchema),
})
export type WorkflowListResult = z.infer<typeof WorkflowListResult>

/** `workflow count --json`. */
export const WorkflowCountResult = z.object({
  ...ScanFields,
  group_by: z.enum(GROUP_BY_KEYS).nullable(),
  total: z.number(),
  /** Largest first; empty without --group-by. */
  groups: z.array(z.object({key: z.string(), count: z.number()})),
})
export type WorkflowCountResult = z.infer<typeof WorkflowCountResult>

export interface WorkflowFilter {
  statuses?: readonly WorkflowListStatus[]
  tenant?: string
  /** Workflows the service took part in. */
  service?: string
  /** The root's type; `*` matches any run of characters. */
  type?: string
}

export interface ScanWorkflowsOptions {
  window: ScanWindow
  stalledAfterMs?: number
  maxWorkflows?: number
  /** Sites the fan-out could not reach; listed in `sites` with their error. */
  unreachable?: readonly SiteStatus[]
  /** "Now" for stalls when the window has no end (tests). */
  now?: number
  batch?: number
  signal?: AbortSignal
}

/** What is kept of one correlation while the window is read. */
interface Tracked {
  first: number
  last: number
  root: (NonNullable<WorkflowSummary['root']> & {at: number}) | undefined
  tenant: string | null
  /** When the message the tenant was taken from happened. */
  tenantAt: number
  services: string[]
  sites: string[]
  messages: number
  fold: WorkflowFold
}

interface Scan {
  byCorrelation: Map<string, Tracked>
  sites: WorkflowResult['sites']
  window: z.infer<typeof ScanFields.window>
  stalledAfterMs: number
  stalledBefore: number
  scanned: number
  truncated: {max_workflows: number; untracked_messages: number} | null
}

const text = (v: unknown) => (typeof v === 'string' && v ? v.slice(0, MAX_TEXT) : null)

/** `dv.<service>.cmd.…` / `dv.<service>.evt.…`: the service; null for task events and other subjects. */
function subjectService(subject: string): string | null {
  if (!subject.startsWith('dv.')) return null
  const end = subject.indexOf('.', 3)
  const service = end < 0 ? null : subject.slice(3, end)
  return service && service !== 'task' && service !== 'rpc' ? service.slice(0, MAX_TEXT) : null
}

function addService(list: string[], service: string | null): void {
  if (service && list.length < MAX_SERVICES && !list.includes(service)) list.push(service)
}

/**
 * What the task board needs of a task event to know its task and state: the task id (`data.task_id`, else the
 * envelope subject). Progress, error, result, source, tenant and correlation are left out: the board would keep
 * them in every task's record, and the summary has them already.
 */
function slimTaskEnvelope(envelope: Record<string, unknown>): Record<string, unknown> {
  const data = envelope.data
  const taskId = data && typeof data === 'object' ? (data as Record<string, unknown>).task_id : undefined
  return {subject: envelope.subject, data: {task_id: taskId}}
}

const NO_DATA = new Uint8Array(0)

/** Advisories of one site by the message they name: stream, then sequence. */
type Targets = Map<string, Map<number, Array<{advisory: Advisory; stored: StoredMessage}>>>

/**
 * Reads the window of every site once: DV_DLQ first (advisories name a message by stream and sequence, so
 * they are known before the messages are), then DV_CMD, DV_EVT and DV_TASK, each message folded into its
 * correlation's summary as it arrives.
 */
async function scan(connections: readonly SiteConnection[], options: ScanWorkflowsOptions): Promise<Scan> {
  const max = options.maxWorkflows ?? DEFAULT_MAX_WORKFLOWS
  const stalledAfterMs = options.stalledAfterMs ?? DEFAULT_STALLED_AFTER_MS
  const end = options.window.to?.getTime() ?? options.now ?? Date.now()
  const byCorrelation = new Map<string, Tracked>()
  const multiSite = connections.length + (options.unreachable?.filter((s) => s.error).length ?? 0) > 1
  let untracked = 0
  const drain = {window: options.window, batch: options.batch, signal: options.signal}

  const readSite = async (conn: SiteConnection) => {
    const targets: Targets = new Map()
    let advisories = 0
    const dlq = await drainSite(
      conn,
      [
        {
          stream: STREAMS.dlq,
          take: (stored) => {
            const advisory = parseAdvisory(stored.data)
            if (!advisory || !(WORKFLOW_STREAMS as readonly string[]).includes(advisory.stream)) return
            let bySeq = targets.get(advisory.stream)
            if (!bySeq) targets.set(advisory.stream, (bySeq = new Map()))
            // Where the advisory is stored, without its bytes (which may share a buffer with many others).
            const where = {...stored, data: NO_DATA}
            const list = bySeq.get(advisory.stream_seq)
            if (list) list.push({advisory, stored: where})
            else bySeq.set(advisory.stream_seq, [{advisory, stored: where}])
            advisories++
          },
        },
      ],
      drain,
    )
    if (dlq.error) return dlq
    const domain = advisories ? ((await conn.identity()).jsDomain ?? undefined) : undefined
    const take = (stored: StoredMessage) => {
      const envelope = workflowEnvelope(parseStored(stored))
      const correlation = envelope?.correlation_id
      if (!envelope || !correlation || correlation.length > MAX_TEXT) return
      let t = byCorrelation.get(correlation)
      const at = messageTime(envelope, stored.time)
      if (!t) {
        if (byCorrelation.size >= max) {
          untracked++
          return
        }
        t = {
          first: at,
          last: at,
          root: undefined,
          tenant: null,
          tenantAt: at,
          services: [],
          sites: [],
          messages: 0,
          fold: new WorkflowFold({setters: false}),
        }
        byCorrelation.set(correlation, t)
      }
      t.messages++
      if (at < t.first) t.first = at
      if (at > t.last) t.last = at
      if (!t.sites.includes(stored.site)) t.sites.push(stored.site)
      const source = text(envelope.source)
      const service = subjectService(stored.subject)
      addService(t.services, service)
      addService(t.services, source)
      // The tenant of the earliest message that names one (the root, as a rule), whatever order the streams arrive in.
      const tenant = text(envelope.tenant_id)
      if (tenant !== null && (t.tenant === null || at < t.tenantAt)) {
        t.tenant = tenant
        t.tenantAt = at
      }
      if (causationOf(envelope) === null && (!t.root || at < t.root.at)) {
        t.root = {
          id: envelope.id.slice(0, MAX_TEXT),
          type: text(envelope.type),
          subject: stored.subject,
          site: stored.site,
          service: service ?? source,
          at,
        }
      }
      if (taskEventVerb(stored.subject)) {
        const time = new Date(at).toISOString()
        t.fold.apply({
          site: stored.site,
          subject: stored.subject,
          time,
          id: envelope.id,
          envelope: slimTaskEnvelope(envelope),
        })
      }
      const hits = advisories ? targets.get(stored.stream)?.get(stored.seq) : undefined
      for (const {advisory, stored: where} of hits ?? []) {
        if (toDeadLetter(advisory, where, envelope.id, domain, multiSite)) t.fold.deadLetters++
      }
    }
    const read = await drainSite(
      conn,
      WORKFLOW_STREAMS.map((stream) => ({stream, take})),
      drain,
    )
    return {...read, missing: [...dlq.missing, ...read.missing], scanned: dlq.scanned + read.scanned}
  }

  const reads = await Promise.all(connections.map(readSite))
  return {
    byCorrelation,
    sites: [
      ...reads.map((r) => ({
        site: r.site,
        ...(r.error ? {error: r.error, ...(r.code ? {code: r.code} : {})} : {}),
        ...(r.missing.length ? {missing_streams: r.missing} : {}),
      })),
      ...(options.unreachable ?? []).filter((s) => s.error).map((s) => ({site: s.site, error: s.error})),
    ],
    window: {from: options.window.from?.toISOString() ?? null, to: options.window.to?.toISOString() ?? null},
    stalledAfterMs,
    stalledBefore: end - stalledAfterMs,
    scanned: reads.reduce((n, r) => n + r.scanned, 0),
    truncated: byCorrelation.size >= max && untracked > 0 ? {max_workflows: max, untracked_messages: untracked} : null,
  }
}

/** The filter as a predicate over tracked workflows (the status is worked out once, by the caller). */
function matcher(filter: WorkflowFilter): (t: Tracked, status: WorkflowListStatus) => boolean {
  const statuses = filter.statuses?.length ? new Set(filter.statuses) : undefined
  const type = filter.type === undefined ? undefined : typeMatcher(filter.type)
  return (t, status) =>
    (!statuses || statuses.has(status)) &&
    (filter.tenant === undefined || t.tenant === filter.tenant) &&
    (filter.service === undefined || t.services.includes(filter.service)) &&
    (!type || type(t.root?.type))
}

function summary(correlation: string, t: Tracked, status: WorkflowListStatus, stalledBefore: number): WorkflowSummary {
  const root = t.root
    ? {id: t.root.id, type: t.root.type, subject: t.root.subject, site: t.root.site, service: t.root.service}
    : null
  return {
    correlation_id: correlation,
    status,
    root,
    tenant_id: t.tenant,
    services: [...t.services].sort(),
    first: new Date(t.first).toISOString(),
    last: new Date(t.last).toISOString(),
    sites: [...t.sites].sort(),
    tasks: t.fold.taskCounts(),
    dead_letters: t.fold.deadLetters,
    messages: t.messages,
    stalled_since: status === 'stalled' ? (t.fold.stalledSince(stalledBefore) ?? null) : null,
  }
}

function scanFields(s: Scan) {
  return {
    sites: s.sites,
    window: s.window,
    stalled_after_ms: s.stalledAfterMs,
    seen: s.byCorrelation.size,
    scanned: s.scanned,
    truncated: s.truncated,
  }
}

/** The workflows of the window that match the filter, oldest first (by their first message). */
export async function listWorkflows(
  connections: readonly SiteConnection[],
  options: ScanWorkflowsOptions & {filter?: WorkflowFilter},
): Promise<WorkflowListResult> {
  const s = await scan(connections, options)
  const matches = matcher(options.filter ?? {})
  const workflows: WorkflowSummary[] = []
  for (const [correlation, t] of s.byCorrelation) {
    const status = t.fold.listStatus(s.stalledBefore)
    if (matches(t, status)) workflows.push(summary(correlation, t, status, s.stalledBefore))
  }
  workflows.sort((a, b) => a.first.localeCompare(b.first) || a.correlation_id.localeCompare(b.correlation_id))
  return {...scanFields(s), total: workflows.length, workflows}
}

/** The group a workflow counts in. */
function groupKey(t: Tracked, status: WorkflowListStatus, by: WorkflowGroupKey): string {
  switch (by) {
    case 'status':
      return status
    case 'service':
      return t.root?.service ?? '(no root)'
    case 'tenant':
      return t.tenant ?? '(none)'
  }
}

/** How many workflows of the window match the filter, and with `groupBy` how many in each group. */
export async function countWorkflows(
  connections: readonly SiteConnection[],
  options: ScanWorkflowsOptions & {filter?: WorkflowFilter; groupBy?: WorkflowGroupKey},
): Promise<WorkflowCountResult> {
  const s = await scan(connections, options)
  const matches = matcher(options.filter ?? {})
  const counts = new Map<string, number>()
  let total = 0
  for (const t of s.byCorrelation.values()) {
    const status = t.fold.listStatus(s.stalledBefore)
    if (!matches(t, status)) continue
    total++
    if (options.groupBy) {
      const key = groupKey(t, status, options.groupBy)
      counts.set(key, (counts.get(key) ?? 0) + 1)
    }
  }
  const groups = [...counts]
    .map(([key, count]) => ({key, count}))
    .sort((a, b) => b.count - a.count || a.key.localeCompare(b.key))
  return {...scanFields(s), group_by: options.groupBy ?? null, total, groups}
}
