import type {ConsumerConfig, StreamConfig, StreamSource} from '@nats-io/jetstream'

import {formatDuration, parseDuration} from '../duration.js'
import {serverAtLeast as atLeast} from '../nats/server-version.js'
import type {ConsumerSpec, KvSpec, StreamSourceSpec, StreamSpec} from './schema.js'

/**
 * How each layout-file field maps to the server's config, which fields the server cannot change in place,
 * and the server's defaults (so `export` writes only what differs from them). One table per kind; the
 * planner, apply and export all read these tables.
 */
export type FieldType = 'value' | 'duration' | 'durations' | 'set' | 'sources' | 'source'

export interface FieldDef {
  /** Name in the layout file. */
  field: string
  /** Name in the server's config. */
  server: string
  type: FieldType
  /** The server refuses to change it in place: a difference means delete and create again. */
  immutable?: boolean | ((change: {serverVersion: string; from: unknown; to: unknown}) => boolean)
  /** The server's default, omitted by `export`. */
  otherwise?: unknown
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
  {field: 'sources', server: 'sources', type: 'sources', otherwise: []},
  {field: 'mirror', server: 'mirror', type: 'source', immutable: true},
]

export const CONSUMER_FIELDS: FieldDef[] = [
  {field: 'description', server: 'description', type: 'value'},
  // Checked editable in place on 2.9.10; older servers get a recreate, which is always safe for a consumer.
  {
    field: 'filter_subject',
    server: 'filter_subject',
    type: 'value',
    immutable: ({serverVersion}) => !atLeast(serverVersion, '2.9.10'),
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
  return spec
}

/** `{name, site}` becomes the other site's JetStream domain API (DESIGN.md section 5); the own site needs none. */
export function sourceToServer(spec: StreamSourceSpec, ownSite: string): StreamSource {
  const source: StreamSource = {name: spec.name}
  if (spec.site && spec.site !== ownSite) source.external = {api: `$JS.${spec.site}.API`, deliver: ''}
  else if (spec.external) source.external = {api: spec.external.api, deliver: spec.external.deliver ?? ''}
  if (spec.filter_subject) source.filter_subject = spec.filter_subject
  if (spec.opt_start_seq) source.opt_start_seq = spec.opt_start_seq
  if (spec.opt_start_time) source.opt_start_time = spec.opt_start_time
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
    default:
      return value
  }
}

/** The server config for the fields a spec sets (nothing else: the server fills in its defaults). */
export function specToServer(defs: FieldDef[], spec: object, ownSite: string): Record<string, unknown> {
  const config: Record<string, unknown> = {}
  for (const def of defs) {
    const value = (spec as Record<string, unknown>)[def.field]
    if (value !== undefined) config[def.server] = valueToServer(def, value, ownSite)
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
    default:
      return JSON.stringify(value)
  }
}

function canonicalSource(spec: StreamSourceSpec): string {
  const site = spec.site ?? spec.external?.api.match(EXTERNAL_API)?.[1]
  return JSON.stringify([
    spec.name,
    site ?? spec.external?.api ?? '',
    spec.filter_subject ?? '',
    spec.opt_start_seq ?? 0,
    spec.opt_start_time ?? '',
  ])
}

/** Drops the values equal to the server's defaults, for a readable `export`. */
export function withoutDefaults(defs: FieldDef[], spec: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const def of defs) {
    const value = spec[def.field]
    if (value === undefined || value === '') continue
    if (def.otherwise !== undefined && comparable(def, value) === comparable(def, normaliseDefault(def))) continue
    out[def.field] = value
  }
  return out
}

function normaliseDefault(def: FieldDef): unknown {
  if (def.type === 'duration') return formatDuration(def.otherwise as number)
  return def.otherwise
}

export const streamSpecFromServer = (config: StreamConfig) => specFromServer(STREAM_FIELDS, config) as StreamSpec
export const consumerSpecFromServer = (config: ConsumerConfig) =>
  specFromServer(CONSUMER_FIELDS, config) as ConsumerSpec
export const kvSpecFromServer = (config: StreamConfig) => specFromServer(KV_FIELDS, config) as KvSpec
