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
import {neverPruned, ownerOf, unmarked} from './ownership.js'
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
  /** For a live object: the layout dvctl created it for (its ownership mark), null when none. */
  owner: z.string().nullable().optional(),
})
export type LayoutChange = z.infer<typeof LayoutChange>

export const LiveObject = z.object({kind: ChangeKind, name: z.string(), stream: z.string().optional()})
export type LiveObject = z.infer<typeof LiveObject>

/**
 * Why a live object the layout does not declare stays: `--prune` was not given (and would delete it);
 * dvctl did not create it for this layout; the server owns it; it is the dead-letter audit trail.
 */
export const KeptReason = z.enum(['prune-not-given', 'not-owned', 'server-owned', 'audit-trail'])
export type KeptReason = z.infer<typeof KeptReason>

export const UnmanagedObject = LiveObject.extend({owner: z.string().nullable(), reason: KeptReason})
export type UnmanagedObject = z.infer<typeof UnmanagedObject>

export const LayoutPlan = z.object({
  site: z.string(),
  layout: z.string().nullable(),
  changes: z.array(LayoutChange),
  /** Live objects the layout does not declare, kept, each with the reason. */
  unmanaged: z.array(UnmanagedObject),
})
export type LayoutPlan = z.infer<typeof LayoutPlan>

export interface PlanOptions {
  /** Plan the deletion of live objects the layout does not declare and dvctl created for it. */
  prune?: boolean
  /** The time runtime state is judged at (a pause in force), in ms; now by default. */
  now?: number
}

/**
 * The pure diff of a site's declared layout against its live config (docs/operations.md, layouts). Only
 * the fields the layout sets are compared, so server-side defaults never show as drift, and a field the
 * server leaves out of its config counts as its default; values are compared in a normalised form (`2m`
 * equals `120s`, reserved metadata keys ignored); a difference in a field the server cannot change in
 * place makes the object `recreate`. `prune` proposes deleting only what dvctl created for this layout
 * (ownership.ts) and never what the server owns or the dead-letter audit trail.
 */
export function planLayout(declared: SiteLayout, live: LiveLayout, options: PlanOptions = {}): LayoutPlan {
  const version = live.serverVersion
  const now = options.now ?? Date.now()
  const changes: LayoutChange[] = []
  const unmanaged: UnmanagedObject[] = []
  /** Deleted with --prune, or listed as kept with the reason. */
  const notDeclared = (object: LiveObject, config: {description?: string; metadata?: Record<string, string>}) => {
    const owner = ownerOf(config)
    const reason =
      neverPruned(object.kind, object.name, config) ??
      (!declared.name || owner !== declared.name ? 'not-owned' : options.prune ? undefined : 'prune-not-given')
    if (reason) unmanaged.push({...object, owner, reason})
    else changes.push({...object, action: 'delete', diff: [], owner})
  }

  for (const [name, spec] of Object.entries(declared.streams)) {
    const current = live.streams[name]
    const {consumers = {}, ...streamSpec} = spec
    const streamChange = compare(
      'stream',
      name,
      STREAM_FIELDS,
      streamSpec,
      current && unmarked(streamSpecFromServer(current.config)),
      version,
      now,
    )
    if (current) streamChange.owner = ownerOf(current.config)
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
          owner: ownerOf(live),
        })
        continue
      }
      const liveSpec = live && serverOwnedAckWait(consumerSpec, unmarked(consumerSpecFromServer(live)))
      const change = compare('consumer', consumer, CONSUMER_FIELDS, consumerSpec, liveSpec, version, now)
      changes.push({...change, stream: name, ...(live ? {owner: ownerOf(live)} : {})})
    }
    if (!current || streamGone) continue
    for (const consumer of Object.keys(current.consumers).sort()) {
      if (consumer in consumers) continue
      notDeclared({kind: 'consumer', name: consumer, stream: name}, current.consumers[consumer])
    }
  }

  for (const [name, spec] of Object.entries(declared.kv)) {
    const current = live.kv[name]
    const change = compare('kv', name, KV_FIELDS, spec, current && unmarked(kvSpecFromServer(current)), version, now)
    changes.push(current ? {...change, owner: ownerOf(current)} : change)
  }

  for (const name of Object.keys(live.streams).sort()) {
    if (!(name in declared.streams)) notDeclared({kind: 'stream', name}, live.streams[name].config)
  }
  for (const name of Object.keys(live.kv).sort()) {
    if (!(name in declared.kv)) notDeclared({kind: 'kv', name}, live.kv[name])
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
