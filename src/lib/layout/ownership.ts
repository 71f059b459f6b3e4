import {usageError} from '../errors.js'
import {supportsMetadata} from '../nats/server-version.js'
import {KV_STREAM_PREFIX} from './fields.js'
import {isAuditRecord} from './names.js'

/**
 * Which layout created a stream, consumer or KV bucket: `--prune` deletes only what dvctl created for the
 * layout being applied (issue 13, item 9), so an empty or wrong layout cannot take a site's other streams,
 * the dead-letter ledger or someone else's objects with it.
 *
 * The mark is set when dvctl creates the object (or when `layout adopt` claims it): in the config's
 * `metadata` under `dvctl.layout` on nats-server 2.10+, and on 2.9, which has no metadata, as a suffix of
 * the description (` [dvctl:layout=NAME]`). Both are read on every version, so a site upgraded from 2.9
 * keeps its marks. The mark is dvctl's own: the planner never sees it as a description or metadata change.
 */
export const OWNER_KEY = 'dvctl.layout'

const MARKER = /(?:^|\s)\[dvctl:layout=([^\]\n]+)\]$/

export interface Markable {
  description?: string
  metadata?: Record<string, string>
}

/** The layout that created the object, or null when dvctl did not create it for any layout. */
export function ownerOf(config: Markable | undefined): string | null {
  const byMetadata = config?.metadata?.[OWNER_KEY]
  if (byMetadata) return byMetadata
  return config?.description?.match(MARKER)?.[1] ?? null
}

/** The description without dvctl's ownership marker: what the layout file declares. */
export function withoutMarker(description: string | undefined): string | undefined {
  if (description === undefined) return undefined
  const stripped = description.replace(MARKER, '')
  return stripped === description ? description : stripped.trimEnd()
}

/** A live spec as a layout file writes it: dvctl's marker is not part of the declared description. */
export function unmarked<T extends object>(spec: T): T {
  const {description} = spec as {description?: unknown}
  return typeof description === 'string' ? {...spec, description: withoutMarker(description)} : spec
}

const marked = (description: string | undefined, owner: string) =>
  description ? `${description} [dvctl:layout=${owner}]` : `[dvctl:layout=${owner}]`

/**
 * The config to send so that the object carries `owner`'s mark. `current` is the live description and
 * metadata (none for a new object), merged so that neither the declared description nor other metadata is lost.
 */
export function withMark<T extends Markable>(
  config: T,
  owner: string,
  serverVersion: string,
  current: Markable = {},
): T {
  if (supportsMetadata(serverVersion)) {
    return {...config, metadata: {...current.metadata, ...config.metadata, [OWNER_KEY]: owner}}
  }
  const description = withoutMarker(config.description ?? current.description)
  return {...config, description: marked(description, owner)}
}

/**
 * Why dvctl must never delete a live object, whoever marked it: the server made it (sourcing and mirror
 * consumers, KV and object-store internals, the MQTT streams), or it is the dead-letter audit trail.
 * Undefined when nothing forbids it.
 */
export function neverPruned(
  kind: 'stream' | 'consumer' | 'kv',
  name: string,
  config?: Markable,
): 'server-owned' | 'audit-trail' | undefined {
  if (isAuditRecord(kind, name)) return 'audit-trail'
  if (kind === 'consumer') {
    // nats-server names the consumers it creates on an origin stream for sourcing and mirroring
    // JS_SRC_<hash>[_<n>] and JS_MIRROR_<hash>[_<n>] (server/stream.go, 2.10 to 2.15; 2.9 uses unnamed
    // direct consumers, which are not listed), and tags them with `_nats.src.*` metadata.
    if (/^JS_(SRC|MIRROR)_/.test(name)) return 'server-owned'
    if (Object.keys(config?.metadata ?? {}).some((k) => k.startsWith('_nats.src.'))) return 'server-owned'
    return undefined
  }
  if (kind === 'stream' && (name.startsWith('$') || name.startsWith(KV_STREAM_PREFIX) || name.startsWith('OBJ_'))) {
    return 'server-owned'
  }
  return undefined
}

/** `--prune` and `layout adopt` act for one named layout; an unnamed one could claim anything. */
export function requireLayoutName(layout: {layout?: string}, what: string): string {
  const name = layout.layout?.trim()
  if (name) return name
  throw usageError(
    `${what} needs a named layout: it acts only on objects dvctl created for that layout.`,
    'layout-unnamed',
    'Add a top-level `layout: NAME` to the file (the built-in layout is named dataverket).',
  )
}
