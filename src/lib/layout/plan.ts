import {z} from 'zod'

import {formatDuration, parseDuration} from '../duration.js'
import {
  comparable,
  CONSUMER_FIELDS,
  consumerSpecFromServer,
  type FieldDef,
  isImmutable,
  KV_FIELDS,
  kvSpecFromServer,
  normaliseDefault,
  STREAM_FIELDS,
  streamSpecFromServer,
} from './fields.js'
import type {LiveLayout} from './live.js'
import type {ConsumerSpec, SiteLayout} from './schema.js'

export const ChangeKind = z.enum(['stream', 'consumer', 'kv'])
export type ChangeKind = z.infer<typeof ChangeKind>
export const ChangeAction = z.enum(['create', 'update', 'recreate', 'delete', 'noop'])
export type ChangeAction = z.infer<typeof ChangeAction>

export const FieldDiff = z.object({
  field: z.string(),
  from: z.unknown(),
  to: z.unknown(),
  /** The server cannot change this field in place. */
  forces_recreate: z.boolean().optional(),
})
export type FieldDiff = z.infer<typeof FieldDiff>

/** Live runtime state the layout does not set (an operator's consumer pause): shown, never reverted. */
export const RuntimeState = z.object({field: z.string(), value: z.unknown(), note: z.string()})
export type RuntimeState = z.infer<typeof RuntimeState>

export const LayoutChange = z.object({
  kind: ChangeKind,
  name: z.string(),
  /** The stream a consumer belongs to. */
  stream: z.string().optional(),
  action: ChangeAction,
  diff: z.array(FieldDiff),
  /** Why a change has no field diff of its own (a consumer recreated along with its stream). */
  reason: z.string().optional(),
  /** Runtime state kept as it is, also across a recreate (`pause_until` set through the pause API). */
  state: z.array(RuntimeState).optional(),
})
export type LayoutChange = z.infer<typeof LayoutChange>

export const LiveObject = z.object({kind: ChangeKind, name: z.string(), stream: z.string().optional()})
export type LiveObject = z.infer<typeof LiveObject>

export const LayoutPlan = z.object({
  site: z.string(),
  layout: z.string().nullable(),
  changes: z.array(LayoutChange),
  /** Live objects the layout does not declare, kept because `--prune` was not given. */
  unmanaged: z.array(LiveObject),
})
export type LayoutPlan = z.infer<typeof LayoutPlan>

export interface PlanOptions {
  /** Plan the deletion of live objects the layout does not declare. */
  prune?: boolean
  /** The time runtime state is judged at (a pause in force), in ms; now by default. */
  now?: number
}

/**
 * The pure diff of a site's declared layout against its live config (DESIGN.md sections 5 and 10a). Only
 * the fields the layout sets are compared, so server-side defaults never show as drift, and a field the
 * server leaves out of its config counts as its default; values are compared in a normalised form (`2m`
 * equals `120s`, reserved metadata keys ignored); a difference in a field the server cannot change in
 * place makes the object `recreate`.
 */
export function planLayout(declared: SiteLayout, live: LiveLayout, options: PlanOptions = {}): LayoutPlan {
  const version = live.serverVersion
  const now = options.now ?? Date.now()
  const changes: LayoutChange[] = []
  const unmanaged: LiveObject[] = []

  for (const [name, spec] of Object.entries(declared.streams)) {
    const current = live.streams[name]
    const {consumers = {}, ...streamSpec} = spec
    const streamChange = compare(
      'stream',
      name,
      STREAM_FIELDS,
      streamSpec,
      current && streamSpecFromServer(current.config),
      version,
      now,
    )
    changes.push(streamChange)
    const streamGone = streamChange.action === 'recreate' || streamChange.action === 'create'
    for (const [consumer, consumerSpec] of Object.entries(consumers)) {
      const live = current?.consumers[consumer]
      if (streamChange.action === 'recreate' && live) {
        const state = runtimeState(CONSUMER_FIELDS, consumerSpec, consumerSpecFromServer(live), now)
        changes.push({
          kind: 'consumer',
          name: consumer,
          stream: name,
          action: 'recreate',
          diff: [],
          reason: 'its stream is recreated',
          ...(state.length ? {state} : {}),
        })
        continue
      }
      const liveSpec = live && serverOwnedAckWait(consumerSpec, consumerSpecFromServer(live))
      const change = compare('consumer', consumer, CONSUMER_FIELDS, consumerSpec, liveSpec, version, now)
      changes.push({...change, stream: name})
    }
    if (!current || streamGone) continue
    for (const consumer of Object.keys(current.consumers)) {
      if (consumer in consumers) continue
      if (options.prune) changes.push({kind: 'consumer', name: consumer, stream: name, action: 'delete', diff: []})
      else unmanaged.push({kind: 'consumer', name: consumer, stream: name})
    }
  }

  for (const [name, spec] of Object.entries(declared.kv)) {
    const current = live.kv[name]
    changes.push(compare('kv', name, KV_FIELDS, spec, current && kvSpecFromServer(current), version, now))
  }

  for (const name of Object.keys(live.streams).sort()) {
    if (name in declared.streams) continue
    if (options.prune) changes.push({kind: 'stream', name, action: 'delete', diff: []})
    else unmanaged.push({kind: 'stream', name})
  }
  for (const name of Object.keys(live.kv).sort()) {
    if (name in declared.kv) continue
    if (options.prune) changes.push({kind: 'kv', name, action: 'delete', diff: []})
    else unmanaged.push({kind: 'kv', name})
  }

  return {site: declared.site, layout: declared.name ?? null, changes, unmanaged}
}

/**
 * With a backoff, nats-server 2.9 replaces ack_wait by backoff[0] (redelivery follows the backoff), so a
 * live ack_wait equal to the live backoff[0] is the server's doing, not drift, when the layout sets a backoff.
 */
function serverOwnedAckWait(declared: ConsumerSpec, live: ConsumerSpec): ConsumerSpec {
  if (!declared.backoff || !declared.ack_wait || !live.backoff?.length || !live.ack_wait) return live
  if (parseDuration(live.ack_wait) !== parseDuration(live.backoff[0])) return live
  return {...live, ack_wait: declared.ack_wait}
}

function compare(
  kind: ChangeKind,
  name: string,
  defs: FieldDef[],
  declared: object,
  live: Record<string, unknown> | undefined,
  version: string,
  now: number,
): LayoutChange {
  const wanted = declared as Record<string, unknown>
  const diff: FieldDiff[] = []
  let recreate = false
  for (const def of defs) {
    const to = wanted[def.field]
    if (to === undefined) continue
    // Left out of the live config: the server's default (omitted when default, or unknown to that version).
    const from = live?.[def.field] ?? normaliseDefault(def)
    if (live && comparable(def, from) === comparable(def, to)) continue
    const forcesRecreate = Boolean(live) && isImmutable(def, {serverVersion: version, from, to})
    diff.push({
      field: def.field,
      from: live ? display(def, from) : null,
      to: display(def, to),
      ...(forcesRecreate ? {forces_recreate: true} : {}),
    })
    if (forcesRecreate) recreate = true
  }
  const action: ChangeAction = !live ? 'create' : recreate ? 'recreate' : diff.length ? 'update' : 'noop'
  const state = live ? runtimeState(defs, declared, live, now) : []
  return {kind, name, action, diff, ...(state.length ? {state} : {})}
}

/** Runtime state in force on a live object, for the fields the layout leaves to the operator. */
function runtimeState(defs: FieldDef[], declared: object, live: Record<string, unknown>, now: number): RuntimeState[] {
  const state: RuntimeState[] = []
  for (const def of defs) {
    if (!def.state || (declared as Record<string, unknown>)[def.field] !== undefined) continue
    const note = def.state(live[def.field], now)
    if (note) state.push({field: def.field, value: live[def.field], note})
  }
  return state
}

/** Durations shown the way a layout file writes them (`120s` declared shows as `2m`). */
function display(def: FieldDef, value: unknown): unknown {
  if (value === undefined || value === null) return null
  if (def.type === 'duration') return formatDuration(parseDuration(value as string))
  if (def.type === 'durations') return (value as string[]).map((d) => formatDuration(parseDuration(d)))
  return value
}

export interface PlanSummary {
  create: number
  update: number
  recreate: number
  delete: number
  noop: number
}

export function summarisePlan(changes: LayoutChange[]): PlanSummary {
  const summary: PlanSummary = {create: 0, update: 0, recreate: 0, delete: 0, noop: 0}
  for (const change of changes) summary[change.action]++
  return summary
}

export const hasChanges = (plan: Pick<LayoutPlan, 'changes'>) => plan.changes.some((c) => c.action !== 'noop')
