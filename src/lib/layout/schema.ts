import {z} from 'zod'

import {parseDuration} from '../duration.js'

/**
 * The layout file (docs/operations.md, layouts): streams keyed by name with their consumers, KV buckets, and
 * per-site additions and overrides under `sites:`. Field names and values are JetStream's own; durations
 * are strings (`500ms`, `30s`, `2m`, `14d`). Every object is strict, so a misspelt key is an error that
 * names its path instead of a setting silently ignored.
 */

const validDuration = (text: string) => {
  try {
    parseDuration(text)
    return true
  } catch {
    return false
  }
}

export const Duration = z
  .string()
  .refine(validDuration, {message: 'not a duration: use a number with a unit, like 500ms, 30s, 2m, 1h or 14d'})

/** -1 means unlimited, as on the server. */
const Limit = z.number().int().min(-1)
const Name = z.string().regex(/^[A-Za-z0-9_-]+$/, 'only letters, digits, "_" and "-"')
const Subject = z.string().regex(/^[^\s]+$/, 'a subject has no spaces')
const Timestamp = z.iso.datetime({offset: true})

/**
 * `_nats.*` keys belong to the server (it writes `_nats.ver`, `_nats.level`, `_nats.req.level` itself) and
 * `dvctl.*` keys to dvctl's own ownership marks; neither is the layout's to set, and neither is drift.
 */
export const RESERVED_METADATA = ['_nats.', 'dvctl.']
const MetadataKey = z
  .string()
  .min(1)
  .refine((key) => !RESERVED_METADATA.some((prefix) => key.startsWith(prefix)), {
    message: `reserved metadata key: ${RESERVED_METADATA.map((p) => `${p}*`).join(' and ')} are set by the server and dvctl`,
  })
const Metadata = z.record(MetadataKey, z.string())
const Compression = z.enum(['none', 's2'])
export const SubjectTransform = z.strictObject({src: Subject, dest: Subject})

export const StreamSourceSpec = z.strictObject({
  name: Name,
  /** Another site's stream, reached through that site's JetStream domain (`$JS.<site>.API`). */
  site: Name.optional(),
  filter_subject: Subject.optional(),
  opt_start_seq: z.number().int().min(0).optional(),
  opt_start_time: Timestamp.optional(),
  subject_transforms: z.array(SubjectTransform).min(1).optional(),
  external: z.strictObject({api: Subject, deliver: z.string().optional()}).optional(),
})
export type StreamSourceSpec = z.infer<typeof StreamSourceSpec>

export const ConsumerSpec = z.strictObject({
  description: z.string().optional(),
  filter_subject: Subject.optional(),
  ack_policy: z.enum(['explicit', 'all', 'none']).optional(),
  deliver_policy: z.enum(['all', 'last', 'new', 'by_start_sequence', 'by_start_time', 'last_per_subject']).optional(),
  opt_start_seq: z.number().int().min(0).optional(),
  opt_start_time: Timestamp.optional(),
  replay_policy: z.enum(['instant', 'original']).optional(),
  ack_wait: Duration.optional(),
  max_deliver: Limit.optional(),
  backoff: z.array(Duration).min(1).optional(),
  max_ack_pending: Limit.optional(),
  max_waiting: z.number().int().min(0).optional(),
  deliver_subject: Subject.optional(),
  deliver_group: Name.optional(),
  inactive_threshold: Duration.optional(),
  headers_only: z.boolean().optional(),
  sample_freq: z.string().optional(),
  replicas: z.number().int().min(0).max(5).optional(),
  mem_storage: z.boolean().optional(),
  filter_subjects: z.array(Subject).min(1).optional(),
  metadata: Metadata.optional(),
  /** Pull consumers only; the server's own group-name rule. */
  priority_groups: z
    .array(z.string().regex(/^[a-zA-Z0-9/_=-]{1,16}$/, 'a group name is 1-16 letters, digits or /_=-'))
    .min(1)
    .optional(),
  priority_policy: z.enum(['none', 'overflow', 'pinned_client', 'prioritized']).optional(),
  priority_timeout: Duration.optional(),
  /** Paused until then (RFC 3339). Left out, an operator's pause is runtime state that the layout keeps. */
  pause_until: Timestamp.optional(),
})
export type ConsumerSpec = z.infer<typeof ConsumerSpec>

const streamFields = {
  description: z.string().optional(),
  subjects: z.array(Subject).optional(),
  retention: z.enum(['limits', 'workqueue', 'interest']).optional(),
  storage: z.enum(['file', 'memory']).optional(),
  replicas: z.number().int().min(1).max(5).optional(),
  max_age: Duration.optional(),
  max_msgs: Limit.optional(),
  max_bytes: Limit.optional(),
  max_msg_size: Limit.optional(),
  max_msgs_per_subject: Limit.optional(),
  max_consumers: Limit.optional(),
  discard: z.enum(['old', 'new']).optional(),
  duplicate_window: Duration.optional(),
  allow_direct: z.boolean().optional(),
  allow_rollup_hdrs: z.boolean().optional(),
  deny_delete: z.boolean().optional(),
  deny_purge: z.boolean().optional(),
  sources: z.array(StreamSourceSpec).optional(),
  mirror: StreamSourceSpec.optional(),
  metadata: Metadata.optional(),
  compression: Compression.optional(),
  subject_transform: SubjectTransform.optional(),
  first_seq: z.number().int().min(0).optional(),
  republish: z.strictObject({src: Subject.optional(), dest: Subject, headers_only: z.boolean().optional()}).optional(),
  placement: z
    .strictObject({cluster: z.string().min(1).optional(), tags: z.array(z.string().min(1)).optional()})
    .optional(),
  allow_msg_ttl: z.boolean().optional(),
  subject_delete_marker_ttl: Duration.optional(),
  discard_new_per_subject: z.boolean().optional(),
  mirror_direct: z.boolean().optional(),
  consumers: z.record(Name, ConsumerSpec).optional(),
}

export const StreamSpec = z.strictObject(streamFields)
export type StreamSpec = z.infer<typeof StreamSpec>

export const KvSpec = z.strictObject({
  description: z.string().optional(),
  history: z.number().int().min(1).max(64).optional(),
  ttl: Duration.optional(),
  max_bytes: Limit.optional(),
  max_value_size: Limit.optional(),
  storage: z.enum(['file', 'memory']).optional(),
  replicas: z.number().int().min(1).max(5).optional(),
  compression: Compression.optional(),
  metadata: Metadata.optional(),
})
export type KvSpec = z.infer<typeof KvSpec>

export const SiteOverrides = z.strictObject({
  streams: z.record(Name, StreamSpec).optional(),
  kv: z.record(Name, KvSpec).optional(),
})
export type SiteOverrides = z.infer<typeof SiteOverrides>

export const Layout = z.strictObject({
  layout: z.string().optional(),
  description: z.string().optional(),
  streams: z.record(Name, StreamSpec).default({}),
  kv: z.record(Name, KvSpec).default({}),
  sites: z.record(Name, SiteOverrides).default({}),
})
export type Layout = z.infer<typeof Layout>
/** A layout as written by hand (defaults not yet filled in). */
export type LayoutInput = z.input<typeof Layout>

/** One site's view of a layout: the base with that site's overrides merged over it. */
export interface SiteLayout {
  name?: string
  site: string
  streams: Record<string, StreamSpec>
  kv: Record<string, KvSpec>
}
