import {usageError} from './errors.js'
import {STREAMS} from './layout/names.js'
import type {SiteConnection} from './nats/connection.js'
import {readStream, type ScanWindow} from './nats/reader.js'
import {field} from './render/text.js'
import {prop} from './value.js'
import {correlationNeedle} from './workflow/read.js'

/** Ids shown shortened (`tail` prints 8 characters) are accepted by a unique prefix of at least this length. */
export const MIN_PREFIX = 6

/** A full UUID is taken as it is: no scan for other ids that start with it. */
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

export type IdKind = 'correlation' | 'task'

const KINDS: Record<IdKind, {streams: string[]; label: string; of(envelope: unknown): unknown}> = {
  correlation: {
    streams: [STREAMS.cmd, STREAMS.evt, STREAMS.task],
    label: 'correlation id',
    of: (envelope) => prop(envelope, 'correlation_id'),
  },
  task: {
    streams: [STREAMS.task],
    label: 'task id',
    // As task watch reads it: data.task_id, else the envelope subject of a task event.
    of: (envelope) => prop(prop(envelope, 'data'), 'task_id') ?? prop(envelope, 'subject'),
  },
}

/**
 * The full id meant by `typed` (issue 15: the 8-character ids `tail` prints are accepted): `typed` itself
 * when it is a full UUID, shorter than MIN_PREFIX, or found as it is; else the one id in the scan window
 * that starts with it. Several candidates are a usage error listing them (exit 2); none leaves `typed` as
 * it is, so the command says "not found" in its own words.
 */
export async function resolveIdPrefix(
  connections: readonly SiteConnection[],
  kind: IdKind,
  typed: string,
  window: ScanWindow = {},
): Promise<string> {
  if (typed.length < MIN_PREFIX || UUID.test(typed)) return typed
  const found = await idsWithPrefix(connections, kind, typed, window)
  if (found.has(typed) || found.size === 0) return typed
  if (found.size === 1) return [...found][0]
  const {label} = KINDS[kind]
  // Ids come from stored messages (untrusted): shown sanitised, cut to a readable length.
  const shown = [...found]
    .sort()
    .slice(0, 10)
    .map((id) => field(id, 80))
  throw usageError(
    `The ${label} prefix ${field(typed, 80)} is ambiguous: ${shown.join(', ')}${found.size > shown.length ? `, and ${found.size - shown.length} more` : ''}`,
    'ambiguous-id',
    `Give more of the ${label} (one of the above).`,
  )
}

/** Every id of `kind` that starts with `prefix`, on the reachable sites, in the window (at most 50). */
async function idsWithPrefix(
  connections: readonly SiteConnection[],
  kind: IdKind,
  prefix: string,
  window: ScanWindow,
): Promise<Set<string>> {
  const {streams, of} = KINDS[kind]
  const needle = correlationNeedle(prefix)
  const found = new Set<string>()
  const reads = connections.flatMap((conn) =>
    streams.map(async (stream) => {
      const read = readStream(
        conn,
        {stream, needle},
        {start: window.from ? {time: window.from} : undefined, to: window.to},
      )
      try {
        for await (const stored of read) {
          let envelope: unknown
          try {
            envelope = JSON.parse(Buffer.from(stored.data).toString('utf8'))
          } catch {
            continue
          }
          const id = of(envelope)
          if (typeof id === 'string' && id.startsWith(prefix)) found.add(id)
          if (found.size >= 50) break
        }
      } catch {
        // A missing stream or a site that fails here is reported by the command's own read.
      }
    }),
  )
  await Promise.all(reads)
  return found
}

/** A task filter with its correlation and task id prefixes resolved (task watch, task list). */
export async function resolveFilterIds<F extends {correlationId?: string; taskId?: string}>(
  connections: readonly SiteConnection[],
  filter: F,
): Promise<F> {
  const resolved = {...filter}
  if (resolved.correlationId)
    resolved.correlationId = await resolveIdPrefix(connections, 'correlation', resolved.correlationId)
  if (resolved.taskId) resolved.taskId = await resolveIdPrefix(connections, 'task', resolved.taskId)
  return resolved
}
