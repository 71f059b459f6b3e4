import type {ConsumerConfig, StreamConfig, StreamSource} from '@nats-io/jetstream'

import {formatDuration, parseDuration} from '../duration.js'
import {serverAtLeast as atLeast} from '../nats/server-version.js'
import {compareText} from '../order.js'
import {type ConsumerSpec, type KvSpec, RESERVED_METADATA, type StreamSourceSpec, type StreamSpec} from './schema.js'

/**
 * How each layout-file field maps to the server's config, which fields the server cannot change in place,
 * and the server's defaults (so `export` writes only what differs from them). One table per kind; the
 * planner, apply and export all read these tables.
 */
export type FieldType =
  | 'value'
  | 'duration'
  | 'durations'
  | 'set'
  | 'sources'
  | 'source'
  /** A string map whose reserved keys (`_nats.*`, `dvctl.*`) are never compared or exported. */
  | 'metadata'
  /** A small object (`{src, dest}`, placement): key order, and false or empty members, do not matter. */
  | 'object'
  /** An RFC 3339 instant, compared as an instant. */
  | 'time'

/** A server release needed for a field (or for one part of its value, at `at` below the field). */
export interface Requirement {
  version: string
  at?: string
}

export interface FieldDef {
  /** Name in the layout file. */
  field: string
  /** Name in the server's config. */
  server: string
  type: FieldType
  /** The server refuses to change it in place: a difference means delete and create again. */
  immutable?: boolean | ((change: {serverVersion: string; from: unknown; to: unknown}) => boolean)
  /**
   * The server's default, omitted by `export`. The server also leaves many fields out of its config when
   * they hold the default (`omitempty`), and older servers lack the newer fields altogether, which for
   * them means the same thing: a field missing from a live config is compared as this value.
   */
  otherwise?: unknown
  /**
   * The lowest nats-server release that honours the field: the first tag of nats-io/nats-server whose
   * stream.go or consumer.go has it. Older servers drop unknown fields without an error (checked on
   * 2.9.10: `compression`, `metadata`, `allow_msg_ttl`, `filter_subjects`, `pause_until`), so a layout
   * that sets one there is refused before anything is written (see version-gate.ts). A function when
   * only some values need a newer release.
   */
  since?: string | ((value: unknown) => Requirement | undefined)
  /** A server field that must be cleared when this one is set: the server refuses both at once. */
  excludes?: string
  /** What the server fills in, so that the declared and the live value compare equal. */
  normalise?: (value: unknown) => unknown
  /**
   * Runtime state rather than configuration: when the layout leaves the field out, a live value in force
   * is described (never drift, never reverted); when the layout sets it, it is compared as usual.
   */
  state?: (live: unknown, now: number) => string | undefined
}

export const STREAM_FIELDS: FieldDef[] = [
  {field: 'description', server: 'description', type: 'value'},
  {field: 'subjects', server: 'subjects', type: 'set', otherwise: []},
  {field: 'retention', server: 'retention', type: 'value', immutable: true},
  {field: 'storage', server: 'storage', type: 'value', immutable: true},
  {field: 'replicas', server: 'num_replicas', type: 'value', otherwise: 1},
  {field: 'max_age', server: 'max_age', type: 'duration', otherwise: 0},
  {field: 'max_msgs', server: 'max_msgs', type: 'value', otherwise: -1},
  {field: 'max_bytes', server: 'max_bytes', type: 'value', otherwise: -1},
  {field: 'max_msg_size', server: 'max_msg_size', type: 'value', otherwise: -1},
  {field: 'max_msgs_per_subject', server: 'max_msgs_per_subject', type: 'value', otherwise: -1},
  {field: 'max_consumers', server: 'max_consumers', type: 'value', immutable: true, otherwise: -1},
  {field: 'discard', server: 'discard', type: 'value', otherwise: 'old'},
  {field: 'duplicate_window', server: 'duplicate_window', type: 'duration', otherwise: 120_000},
  {field: 'allow_direct', server: 'allow_direct', type: 'value', otherwise: false},
  {field: 'allow_rollup_hdrs', server: 'allow_rollup_hdrs', type: 'value', otherwise: false},
  // Checked on 2.9.10: a deny can be switched on in place, never off again.
  {field: 'deny_delete', server: 'deny_delete', type: 'value', immutable: ({from}) => from === true, otherwise: false},
  {field: 'deny_purge', server: 'deny_purge', type: 'value', immutable: ({from}) => from === true, otherwise: false},
  // Sources change in place, their filter_subject and subject_transforms too (checked on 2.15.2).
  {field: 'sources', server: 'sources', type: 'sources', otherwise: [], since: sourcesRequirement},
  // 2.15.2 refuses any change to a mirror, its filter and transforms ("stream mirror configuration can
  // not be updated"); it only allows removing it.
  {field: 'mirror', server: 'mirror', type: 'source', immutable: true, since: sourceRequirement},

  // Fields of 2.10-2.15 (docs/operations.md, layouts). What changes in place was checked on 2.15.2 by updating
  // a live stream, field by field.
  // In place: keys added, changed and removed. `_nats.*` and `dvctl.*` keys are never compared.
  {field: 'metadata', server: 'metadata', type: 'metadata', otherwise: {}, since: '2.10.0'},
  // In place, both ways; blocks written afterwards use the new setting.
  {field: 'compression', server: 'compression', type: 'value', otherwise: 'none', since: '2.10.0'},
  // In place: added, changed and removed.
  {field: 'subject_transform', server: 'subject_transform', type: 'object', since: '2.10.0'},
  // 2.15.2 accepts and stores a changed first_seq, but acts on it only when it creates the stream: a
  // change needs the stream created again to take effect.
  {field: 'first_seq', server: 'first_seq', type: 'value', immutable: true, otherwise: 0, since: '2.10.0'},
  // In place: added, changed (dest, headers_only) and removed. The server fills an absent `src` with `>`.
  {
    field: 'republish',
    server: 'republish',
    type: 'object',
    normalise: (value) => ({src: '>', ...(value as object)}),
    since: (value) =>
      (value as {headers_only?: boolean}).headers_only ? {version: '2.9.0', at: 'headers_only'} : {version: '2.8.3'},
  },
  // In place. On a three-node 2.15.2 cluster a changed placement moved the stream to the matching server
  // (a further change is refused while a move runs); a single server stores it and places nothing.
  {field: 'placement', server: 'placement', type: 'object', since: '2.2.0'},
  // Switched on in place, never off again (2.15.2: "message TTL status can not be disabled").
  {
    field: 'allow_msg_ttl',
    server: 'allow_msg_ttl',
    type: 'value',
    immutable: ({from}) => from === true,
    otherwise: false,
    since: '2.11.0',
  },
  // In place: set, changed and cleared. Setting it also switches allow_msg_ttl and allow_rollup_hdrs on.
  {
    field: 'subject_delete_marker_ttl',
    server: 'subject_delete_marker_ttl',
    type: 'duration',
    otherwise: 0,
    since: '2.11.0',
  },
  // In place, both ways (the server wants discard: new and max_msgs_per_subject > 0 with it).
  {
    field: 'discard_new_per_subject',
    server: 'discard_new_per_subject',
    type: 'value',
    otherwise: false,
    since: '2.9.1',
  },
  // In place for a mirror of another domain's stream. For a mirror in the same domain the server copies
  // the origin's allow_direct over any declared value (2.9.10 and 2.15.2), so validation refuses it there.
  {field: 'mirror_direct', server: 'mirror_direct', type: 'value', otherwise: false, since: '2.9.0'},
]

function sourceRequirement(value: unknown, at = ''): Requirement | undefined {
  const source = value as StreamSourceSpec
  return source.subject_transforms?.length ? {version: '2.10.0', at: `${at}subject_transforms`} : undefined
}

function sourcesRequirement(value: unknown): Requirement | undefined {
  const sources = value as StreamSourceSpec[]
  for (const [index, source] of sources.entries()) {
    const needs = sourceRequirement(source, `${index}.`)
    if (needs) return needs
  }
  return undefined
}

export const CONSUMER_FIELDS: FieldDef[] = [
  {field: 'description', server: 'description', type: 'value'},
  // Checked editable in place on 2.9.10; older servers get a recreate, which is always safe for a consumer.
  {
    field: 'filter_subject',
    server: 'filter_subject',
    type: 'value',
    immutable: ({serverVersion}) => !atLeast(serverVersion, '2.9.10'),
    excludes: 'filter_subjects',
  },
  {field: 'ack_policy', server: 'ack_policy', type: 'value', immutable: true},
  {field: 'deliver_policy', server: 'deliver_policy', type: 'value', immutable: true, otherwise: 'all'},
  {field: 'opt_start_seq', server: 'opt_start_seq', type: 'value', immutable: true},
  {field: 'opt_start_time', server: 'opt_start_time', type: 'value', immutable: true},
  {field: 'replay_policy', server: 'replay_policy', type: 'value', immutable: true, otherwise: 'instant'},
  {field: 'ack_wait', server: 'ack_wait', type: 'duration', otherwise: 30_000},
  {field: 'max_deliver', server: 'max_deliver', type: 'value', otherwise: -1},
  {field: 'backoff', server: 'backoff', type: 'durations'},
  {field: 'max_ack_pending', server: 'max_ack_pending', type: 'value', otherwise: 1000},
  {field: 'max_waiting', server: 'max_waiting', type: 'value', immutable: true, otherwise: 512},
  {field: 'deliver_subject', server: 'deliver_subject', type: 'value', immutable: true},
  {field: 'deliver_group', server: 'deliver_group', type: 'value', immutable: true},
  {field: 'inactive_threshold', server: 'inactive_threshold', type: 'duration', otherwise: 0},
  {field: 'headers_only', server: 'headers_only', type: 'value', otherwise: false},
  {field: 'sample_freq', server: 'sample_freq', type: 'value', otherwise: ''},
  {field: 'replicas', server: 'num_replicas', type: 'value', otherwise: 0},
  {field: 'mem_storage', server: 'mem_storage', type: 'value', otherwise: false},

  // Fields of 2.10-2.15, checked on 2.15.2 by updating a live consumer.
  // In place, also from a single filter_subject to several and back.
  {
    field: 'filter_subjects',
    server: 'filter_subjects',
    type: 'set',
    otherwise: [],
    since: '2.10.0',
    excludes: 'filter_subject',
  },
  // In place. `_nats.*` and `dvctl.*` keys are never compared.
  {field: 'metadata', server: 'metadata', type: 'metadata', otherwise: {}, since: '2.10.0'},
  // Groups and policy change in place, to and from none.
  {field: 'priority_groups', server: 'priority_groups', type: 'set', otherwise: [], since: '2.11.0'},
  {
    field: 'priority_policy',
    server: 'priority_policy',
    type: 'value',
    otherwise: 'none',
    since: (value) => ({version: value === 'prioritized' ? '2.12.0' : '2.11.0'}),
  },
  // In place; pinned_client without it gets 2m from the server.
  {field: 'priority_timeout', server: 'priority_timeout', type: 'duration', otherwise: 0, since: '2.11.0'},
  // A consumer update never changes it: 2.15.2 keeps the current value whatever the update says, and only
  // the pause API (`$JS.API.CONSUMER.PAUSE`) moves it, which is what apply uses. An operator's pause is
  // runtime state: shown by plan, kept by apply, unless the layout itself sets pause_until.
  {
    field: 'pause_until',
    server: 'pause_until',
    type: 'time',
    since: '2.11.0',
    state: (live, now) =>
      typeof live === 'string' && Date.parse(live) > now
        ? `paused until ${live} (not changed by the layout)`
        : undefined,
  },
]

/** KV buckets are streams named `KV_<bucket>`; these are the bucket settings in the stream's terms. */
export const KV_FIELDS: FieldDef[] = [
  {field: 'description', server: 'description', type: 'value'},
  {field: 'history', server: 'max_msgs_per_subject', type: 'value', otherwise: 1},
  {field: 'ttl', server: 'max_age', type: 'duration', otherwise: 0},
  {field: 'max_bytes', server: 'max_bytes', type: 'value', otherwise: -1},
  {field: 'max_value_size', server: 'max_msg_size', type: 'value', otherwise: -1},
  {field: 'storage', server: 'storage', type: 'value', immutable: true, otherwise: 'file'},
  {field: 'replicas', server: 'num_replicas', type: 'value', otherwise: 1},
  // In place, as for streams (checked on 2.15.2 on a KV_ stream).
  {field: 'compression', server: 'compression', type: 'value', otherwise: 'none', since: '2.10.0'},
  {field: 'metadata', server: 'metadata', type: 'metadata', otherwise: {}, since: '2.10.0'},
]

export const KV_STREAM_PREFIX = 'KV_'

export function isImmutable(def: FieldDef, change: {serverVersion: string; from: unknown; to: unknown}): boolean {
  return typeof def.immutable === 'function' ? def.immutable(change) : Boolean(def.immutable)
}

const NANOS_PER_MS = 1_000_000
const EXTERNAL_API = /^\$JS\.([^.]+)\.API$/

/** A source as the layout file writes it: another site's stream as `{name, site}`. */
export function sourceFromServer(source: StreamSource): StreamSourceSpec {
  const spec: StreamSourceSpec = {name: source.name}
  const site = source.external?.api.match(EXTERNAL_API)?.[1]
  if (site) spec.site = site
  else if (source.external?.api)
    spec.external = {api: source.external.api, ...(source.external.deliver ? {deliver: source.external.deliver} : {})}
  if (source.filter_subject) spec.filter_subject = source.filter_subject
  if (source.opt_start_seq) spec.opt_start_seq = source.opt_start_seq
  if (source.opt_start_time) spec.opt_start_time = source.opt_start_time
  if (source.subject_transforms?.length) {
    spec.subject_transforms = source.subject_transforms.map(({src, dest}) => ({src: src ?? '', dest}))
  }
  return spec
}

/** `{name, site}` becomes the other site's JetStream domain API (docs/operations.md, layouts); the own site needs none. */
export function sourceToServer(spec: StreamSourceSpec, ownSite: string): StreamSource {
  const source: StreamSource = {name: spec.name}
  if (spec.site && spec.site !== ownSite) source.external = {api: `$JS.${spec.site}.API`, deliver: ''}
  else if (spec.external) source.external = {api: spec.external.api, deliver: spec.external.deliver ?? ''}
  if (spec.filter_subject) source.filter_subject = spec.filter_subject
  if (spec.opt_start_seq) source.opt_start_seq = spec.opt_start_seq
  if (spec.opt_start_time) source.opt_start_time = spec.opt_start_time
  if (spec.subject_transforms) source.subject_transforms = spec.subject_transforms
  return source
}

function valueToServer(def: FieldDef, value: unknown, ownSite: string): unknown {
  switch (def.type) {
    case 'duration':
      return parseDuration(value as string) * NANOS_PER_MS
    case 'durations':
      return (value as string[]).map((d) => parseDuration(d) * NANOS_PER_MS)
    case 'sources':
      return (value as StreamSourceSpec[]).map((s) => sourceToServer(s, ownSite))
    case 'source':
      return sourceToServer(value as StreamSourceSpec, ownSite)
    default:
      return value
  }
}

function valueFromServer(def: FieldDef, value: unknown): unknown {
  switch (def.type) {
    case 'duration':
      return formatDuration(Math.round((value as number) / NANOS_PER_MS))
    case 'durations':
      return (value as number[]).map((n) => formatDuration(Math.round(n / NANOS_PER_MS)))
    case 'sources':
      return (value as StreamSource[]).map(sourceFromServer)
    case 'source':
      return sourceFromServer(value as StreamSource)
    case 'metadata':
      return withoutReserved(value as Record<string, string>)
    default:
      return value
  }
}

/** Metadata without the server's `_nats.*` keys and dvctl's own `dvctl.*` marks. */
export function withoutReserved(metadata: Record<string, string>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(metadata).filter(([key]) => !RESERVED_METADATA.some((prefix) => key.startsWith(prefix))),
  )
}

/**
 * The server config for the fields a spec sets (nothing else: the server fills in its defaults). A field
 * that excludes another clears it (`undefined`), so an update merged over the live config drops it.
 */
export function specToServer(defs: FieldDef[], spec: object, ownSite: string): Record<string, unknown> {
  const config: Record<string, unknown> = {}
  for (const def of defs) {
    const value = (spec as Record<string, unknown>)[def.field]
    if (value === undefined) continue
    config[def.server] = valueToServer(def, value, ownSite)
    if (def.excludes && !(def.excludes in config)) config[def.excludes] = undefined
  }
  return config
}

/** Every field of a live config in layout-file terms (`export` drops the server defaults afterwards). */
export function specFromServer(defs: FieldDef[], config: object): Record<string, unknown> {
  const spec: Record<string, unknown> = {}
  for (const def of defs) {
    const value = (config as Record<string, unknown>)[def.server]
    if (value === undefined || value === null) continue
    spec[def.field] = valueFromServer(def, value)
  }
  return spec
}

/** A field's value in a form where equal meanings compare equal (`2m` = `120s`, subject order ignored). */
export function comparable(def: FieldDef, value: unknown): string {
  if (value === undefined || value === null) return 'null'
  if (def.normalise) value = def.normalise(value)
  switch (def.type) {
    case 'duration':
      return String(parseDuration(value as string))
    case 'durations':
      return JSON.stringify((value as string[]).map((d) => parseDuration(d)))
    case 'set':
      return JSON.stringify([...(value as string[])].sort())
    case 'sources':
      return JSON.stringify((value as StreamSourceSpec[]).map(canonicalSource).sort())
    case 'source':
      return canonicalSource(value as StreamSourceSpec)
    case 'metadata':
      return stableJson(withoutReserved(value as Record<string, string>))
    case 'object':
      return stableJson(compact(value))
    case 'time':
      return String(Date.parse(value as string))
    default:
      return JSON.stringify(value)
  }
}

/** JSON with object keys sorted, so `{dest, src}` equals `{src, dest}`. */
function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`
  if (value && typeof value === 'object') {
    const entries = Object.entries(value).sort(([a], [b]) => compareText(a, b))
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableJson(v)}`).join(',')}}`
  }
  return JSON.stringify(value)
}

/** Drops false, empty and absent members, which the server leaves out of its config (`omitempty`). */
function compact(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(compact)
  if (!value || typeof value !== 'object') return value
  const out: Record<string, unknown> = {}
  for (const [key, member] of Object.entries(value)) {
    const kept = compact(member)
    const empty =
      kept === undefined ||
      kept === null ||
      kept === false ||
      kept === '' ||
      (Array.isArray(kept) && kept.length === 0) ||
      (typeof kept === 'object' && kept !== null && !Array.isArray(kept) && Object.keys(kept).length === 0)
    if (!empty) out[key] = kept
  }
  return out
}

function canonicalSource(spec: StreamSourceSpec): string {
  const site = spec.site ?? spec.external?.api.match(EXTERNAL_API)?.[1]
  return JSON.stringify([
    spec.name,
    site ?? spec.external?.api ?? '',
    spec.filter_subject ?? '',
    spec.opt_start_seq ?? 0,
    spec.opt_start_time ?? '',
    (spec.subject_transforms ?? []).map(({src, dest}) => [src, dest]),
  ])
}

/** Drops the values equal to the server's defaults, for a readable `export`. */
export function withoutDefaults(defs: FieldDef[], spec: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const def of defs) {
    const value = spec[def.field]
    if (value === undefined || value === '') continue
    if (isDefault(def, value)) continue
    out[def.field] = value
  }
  return out
}

/** The server's default in layout-file terms (a duration as `2m`), or undefined when it has none. */
export function normaliseDefault(def: FieldDef): unknown {
  if (def.type === 'duration' && def.otherwise !== undefined) return formatDuration(def.otherwise as number)
  return def.otherwise
}

/** The value equals the server's default, which every server version honours (`compression: none`). */
export const isDefault = (def: FieldDef, value: unknown): boolean =>
  def.otherwise !== undefined && comparable(def, value) === comparable(def, normaliseDefault(def))

export const streamSpecFromServer = (config: StreamConfig) => specFromServer(STREAM_FIELDS, config) as StreamSpec
export const consumerSpecFromServer = (config: ConsumerConfig) =>
  specFromServer(CONSUMER_FIELDS, config) as ConsumerSpec
export const kvSpecFromServer = (config: StreamConfig) => specFromServer(KV_FIELDS, config) as KvSpec
