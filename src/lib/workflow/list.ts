import {z} from 'zod'

import {typeMatcher} from '../contract/match.js'
import {STREAMS} from '../layout/names.js'
import type {SiteConnection} from '../nats/connection.js'
import type {SiteStatus} from '../nats/fanout.js'
import type {ScanWindow, StoredMessage} from '../nats/reader.js'
import {siteReports} from '../nats/site-report.js'
import {compareText} from '../order.js'
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

/**
 * What is kept of one correlation while the window is read: numbers and references to interned strings (see
 * `Interner`), so that 200,000 workflows stay small. One class, so every record has the same shape. Its times
 * are ms after the scan's epoch (`WorkflowTally.epoch`): within about 12 days of it they are small integers,
 * which V8 keeps in the record itself rather than as a number object of their own.
 */
class Tracked {
  messages = 0
  /** The root (the earliest message without causation_id) once one is seen, at `rootAt`, with id `rootId`. */
  root: RootKind | undefined = undefined
  rootAt = 0
  rootId = ''
  tenant: string | null = null
  /** When the message the tenant was taken from happened. */
  tenantAt: number
  /** Shared, never changed in place: a new list replaces it (`Interner.withItem`). */
  services: readonly string[] = NONE
  sites: readonly string[] = NONE
  /** Made on the first task event or dead letter: most correlations of a window have neither. */
  private ownFold: WorkflowFold | undefined

  constructor(
    public first: number,
    public last: number,
  ) {
    this.tenantAt = first
  }

  /** The task states and dead letters so far, to read (a shared empty fold when there are none). */
  get fold(): WorkflowFold {
    return this.ownFold ?? NO_TASKS
  }

  /** The fold to apply a task event or dead letter to. */
  folding(): WorkflowFold {
    return (this.ownFold ??= new WorkflowFold())
  }
}

/** The fold of a workflow without task events or dead letters; only read, never applied to. */
const NO_TASKS = new WorkflowFold()

const NONE: readonly string[] = Object.freeze([])

/** What a root is besides its id: few distinct ones in a window, so one shared copy of each (`Interner.root`). */
interface RootKind {
  readonly type: string | null
  readonly subject: string
  readonly site: string
  /** The service the root was addressed to, else its source. */
  readonly service: string | null
}

/** Distinct strings (and lists of them) kept per scan; beyond this, new ones are kept as they come. */
const MAX_INTERNED = 10_000

/**
 * One copy of each repeated string (type, subject, site, service, tenant) and of each list of them (the
 * services and sites of a workflow), so every workflow refers to the same few: the network's copies are
 * dropped with their message. Bounded: a window of endless distinct names only stops sharing them.
 */
class Interner {
  private readonly strings = new Map<string, string>()
  private readonly lists = new Map<string, readonly string[]>()
  private readonly services = new Map<string, string | null>()
  private readonly roots = new Map<string, RootKind>()

  text(value: string): string {
    const known = this.strings.get(value)
    if (known !== undefined) return known
    if (this.strings.size < MAX_INTERNED) this.strings.set(value, value)
    return value
  }

  /** The service a subject addresses (`subjectService`), worked out once per distinct subject. */
  service(subject: string): string | null {
    const known = this.services.get(subject)
    if (known !== undefined) return known
    const service = subjectService(subject)
    const kept = service === null ? null : this.text(service)
    if (this.services.size < MAX_INTERNED) this.services.set(subject, kept)
    return kept
  }

  /** The one RootKind with these (interned) parts. */
  root(type: string | null, subject: string, site: string, service: string | null): RootKind {
    // Each part with its length (-1 for null), so that no two different roots share a key.
    const key = `${type?.length ?? -1}:${type ?? ''}${subject.length}:${subject}${site.length}:${site}${service?.length ?? -1}:${service ?? ''}`
    const known = this.roots.get(key)
    if (known) return known
    const root: RootKind = Object.freeze({type, subject, site, service})
    if (this.roots.size < MAX_INTERNED) this.roots.set(key, root)
    return root
  }

  /** `list` with `item` added (at most `max` items); `list` itself when it has it already. */
  withItem(list: readonly string[], item: string, max: number): readonly string[] {
    if (list.length >= max || list.includes(item)) return list
    const key = list.length ? `${list.join('\u0000')}\u0000${item}` : item
    const known = this.lists.get(key)
    if (known) return known
    const next = Object.freeze([...list, item])
    if (this.lists.size < MAX_INTERNED) this.lists.set(key, next)
    return next
  }
}

interface Scan {
  byCorrelation: Map<string, Tracked>
  /** What the tracked times count from (WorkflowTally.epoch). */
  epoch: number
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

const NO_DATA = new Uint8Array(0)

/** Advisories of one site by the message they name: stream, then sequence. */
type Targets = Map<string, Map<number, Array<{advisory: Advisory; stored: StoredMessage}>>>

/** The dead letters of one site, for `WorkflowTally.add`. */
export interface SiteDeadLetters {
  targets: Targets
  /** The site's JetStream domain. */
  domain: string | undefined
  multiSite: boolean
}

/**
 * The correlations of a scan: feed it stored messages (`add`, synchronous), each folded into its correlation's
 * summary. Pure, so the scan and the benches share it.
 */
export class WorkflowTally {
  readonly byCorrelation = new Map<string, Tracked>()
  /** Messages of correlations beyond `max`, not tracked. */
  untracked = 0
  /** The time (ms) every tracked time is counted from: the first message's. */
  epoch: number | undefined
  private readonly names = new Interner()

  constructor(
    private readonly max: number = DEFAULT_MAX_WORKFLOWS,
    /** Keep each root's id (`workflow list` shows it; `workflow count` does not, and keeps a string less each). */
    private readonly rootIds = true,
  ) {}

  add(stored: StoredMessage, deadLetters?: SiteDeadLetters): void {
    const envelope = workflowEnvelope(parseStored(stored))
    const correlation = envelope?.correlation_id
    if (!envelope || !correlation || correlation.length > MAX_TEXT) return
    const names = this.names
    let t = this.byCorrelation.get(correlation)
    const time = messageTime(envelope, stored.time)
    this.epoch ??= time
    const at = time - this.epoch
    if (!t) {
      if (this.byCorrelation.size >= this.max) {
        this.untracked++
        return
      }
      t = new Tracked(at, at)
      this.byCorrelation.set(correlation, t)
    }
    t.messages++
    if (at < t.first) t.first = at
    if (at > t.last) t.last = at
    const site = names.text(stored.site)
    t.sites = names.withItem(t.sites, site, Infinity)
    const source = text(envelope.source)
    const service = names.service(stored.subject)
    if (service !== null) t.services = names.withItem(t.services, service, MAX_SERVICES)
    if (source !== null) t.services = names.withItem(t.services, names.text(source), MAX_SERVICES)
    // The tenant of the earliest message that names one (the root, as a rule), whatever order the streams arrive in.
    const tenant = text(envelope.tenant_id)
    if (tenant !== null && (t.tenant === null || at < t.tenantAt)) {
      t.tenant = names.text(tenant)
      t.tenantAt = at
    }
    if (causationOf(envelope) === null && (t.root === undefined || at < t.rootAt)) {
      const type = text(envelope.type)
      t.rootAt = at
      if (this.rootIds) t.rootId = envelope.id.slice(0, MAX_TEXT)
      t.root = names.root(
        type === null ? null : names.text(type),
        names.text(stored.subject),
        site,
        service ?? (source === null ? null : names.text(source)),
      )
    }
    const verb = taskEventVerb(stored.subject)
    if (verb !== null) {
      // The task: data.task_id, else the envelope subject (TaskBoard's taskIdOf), on a parsed JSON object.
      const data = envelope.data
      const dataTask = data && typeof data === 'object' ? (data as Record<string, unknown>).task_id : undefined
      const taskId =
        typeof dataTask === 'string' && dataTask
          ? dataTask
          : typeof envelope.subject === 'string' && envelope.subject
            ? envelope.subject
            : null
      if (taskId !== null) t.folding().applyTask(taskId, verb, time)
    }
    const hits = deadLetters?.targets.get(stored.stream)?.get(stored.seq)
    if (hits) {
      for (const {advisory, stored: where} of hits) {
        if (toDeadLetter(advisory, where, envelope.id, deadLetters!.domain, deadLetters!.multiSite))
          t.folding().deadLetters++
      }
    }
  }
}

/**
 * Reads the window of every site once: DV_DLQ first (advisories name a message by stream and sequence, so
 * they are known before the messages are), then DV_CMD, DV_EVT and DV_TASK, each message folded into its
 * correlation's summary as it arrives.
 */
async function scan(
  connections: readonly SiteConnection[],
  options: ScanWorkflowsOptions,
  keep: {rootIds: boolean},
): Promise<Scan> {
  const max = options.maxWorkflows ?? DEFAULT_MAX_WORKFLOWS
  const stalledAfterMs = options.stalledAfterMs ?? DEFAULT_STALLED_AFTER_MS
  const end = options.window.to?.getTime() ?? options.now ?? Date.now()
  const tally = new WorkflowTally(max, keep.rootIds)
  const multiSite = connections.length + (options.unreachable?.filter((s) => s.error).length ?? 0) > 1
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
    const deadLetters: SiteDeadLetters | undefined = advisories
      ? {targets, domain: (await conn.identity()).jsDomain ?? undefined, multiSite}
      : undefined
    const read = await drainSite(
      conn,
      WORKFLOW_STREAMS.map((stream) => ({stream, take: (stored: StoredMessage) => tally.add(stored, deadLetters)})),
      drain,
    )
    return {...read, missing: [...dlq.missing, ...read.missing], scanned: dlq.scanned + read.scanned}
  }

  const reads = await Promise.all(connections.map(readSite))
  const {byCorrelation, untracked} = tally
  return {
    byCorrelation,
    epoch: tally.epoch ?? 0,
    sites: siteReports(reads, options.unreachable),
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
    (!type || type(t.root ? t.root.type : undefined))
}

function summary(
  correlation: string,
  t: Tracked,
  status: WorkflowListStatus,
  stalledBefore: number,
  epoch: number,
): WorkflowSummary {
  const root = t.root
    ? {id: t.rootId, type: t.root.type, subject: t.root.subject, site: t.root.site, service: t.root.service}
    : null
  return {
    correlation_id: correlation,
    status,
    root,
    tenant_id: t.tenant,
    services: [...t.services].sort(),
    first: new Date(epoch + t.first).toISOString(),
    last: new Date(epoch + t.last).toISOString(),
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
  const s = await scan(connections, options, {rootIds: true})
  const matches = matcher(options.filter ?? {})
  const workflows: WorkflowSummary[] = []
  for (const [correlation, t] of s.byCorrelation) {
    const status = t.fold.listStatus(s.stalledBefore)
    if (matches(t, status)) workflows.push(summary(correlation, t, status, s.stalledBefore, s.epoch))
  }
  workflows.sort((a, b) => compareText(a.first, b.first) || compareText(a.correlation_id, b.correlation_id))
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
  const s = await scan(connections, options, {rootIds: false})
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
    .sort((a, b) => b.count - a.count || compareText(a.key, b.key))
  return {...scanFields(s), group_by: options.groupBy ?? null, total, groups}
}
