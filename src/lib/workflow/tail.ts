import {z} from 'zod'

import {decodeMessage} from '../contract/envelope.js'
import {ProblemSchema} from '../contract/problem-schema.js'
import type {Problem} from '../contract/problems.js'
import {isService} from '../contract/services.js'
import {subjectMatches, typeMatcher} from '../contract/match.js'
import {STREAMS} from '../layout/names.js'
import type {SiteConnection} from '../nats/connection.js'
import {describeNatsError} from '../nats/errors.js'
import {EventQueue} from '../nats/event-queue.js'
import {readStreams, type ScanWindow, type StoredMessage} from '../nats/reader.js'
import {correlationNeedle} from './read.js'

export type Family = 'cmd' | 'evt' | 'task' | 'rpc'
export const FAMILIES: readonly Family[] = ['cmd', 'evt', 'task', 'rpc']

/** What to show; every given field must match. */
export interface TailFilter {
  correlationId?: string
  /** A NATS subject filter (`dv.maskin.>`, `dv.*.cmd.provision`). */
  subject?: string
  family?: Family
  service?: string
  /** The envelope `type`, exactly, or a prefix ending in `*` (`maskin.server.*`). */
  type?: string
  tenant?: string
}

export interface TailOptions {
  filter: TailFilter
  window: ScanWindow
  /** Read the history in the window (else only new messages). */
  history: boolean
  follow: boolean
  headers?: boolean
  signal?: AbortSignal
}

/** `tail --json` lines (docs/architecture.md, "JSON results"). */
export const TailMessageLine = z.object({
  site: z.string(),
  stream: z.string().nullable(),
  seq: z.number().nullable(),
  subject: z.string(),
  time: z.string(),
  envelope: z.record(z.string(), z.unknown()),
  headers: z.record(z.string(), z.array(z.string())).optional(),
})
export const TailInvalidLine = z.object({
  site: z.string(),
  stream: z.string().nullable(),
  seq: z.number().nullable(),
  subject: z.string(),
  time: z.string(),
  invalid: z.literal(true),
  problems: z.array(ProblemSchema),
  raw: z.string(),
  headers: z.record(z.string(), z.array(z.string())).optional(),
})
export const TailLine = z.union([TailInvalidLine, TailMessageLine])
export type TailMessageLine = z.infer<typeof TailMessageLine>
export type TailInvalidLine = z.infer<typeof TailInvalidLine>
export type TailLine = z.infer<typeof TailLine>

export type TailEvent =
  | ({kind: 'message'} & TailMessageLine)
  | ({kind: 'invalid'} & TailInvalidLine)
  /** The history is shown; what follows is live, in arrival order. */
  | {kind: 'caught-up'}
  | {kind: 'site-down'; site: string}
  | {kind: 'site-up'; site: string}
  | {kind: 'stream-missing'; site: string; stream: string}
  | {kind: 'site-error'; site: string; error: string; code?: string}
  | {kind: 'note'; message: string}

/** Which stream holds each stored family (docs/operations.md, "Layouts"); rpc is request/reply, never stored. */
const FAMILY_STREAM: Record<Exclude<Family, 'rpc'>, string> = {cmd: STREAMS.cmd, evt: STREAMS.evt, task: STREAMS.task}

/** The families a subject filter can match, judged on its first three tokens. */
export function familiesOf(pattern: string): Family[] {
  const [t0, t1, t2] = pattern.split('.')
  const any = (t: string | undefined) => t === '*' || t === '>'
  if (t0 === '>') return [...FAMILIES]
  if (t0 !== 'dv' && t0 !== '*') return []
  if (t1 === '>') return [...FAMILIES]
  const serviceToken = any(t1) || (t1 !== undefined && t1 !== 'task' && t1 !== 'rpc')
  return FAMILIES.filter((family) => {
    // dv.rpc.<service>.<operation>: the third token is a service there.
    if (family === 'rpc') return (any(t1) || t1 === 'rpc') && (t2 === undefined || any(t2) || isService(t2))
    if (family === 'task') return (any(t1) || t1 === 'task') && (any(t2) || t2 === 'evt')
    return serviceToken && (any(t2) || t2 === family)
  })
}

export interface StreamPlan {
  family: Exclude<Family, 'rpc'>
  stream: string
  /** Server-side filter, only when it is certainly inside the stream's subjects (2.9 rejects others). */
  filterSubject?: string
}

/**
 * Which streams to read and with which server-side filter. A subject pattern whose family and service
 * tokens are literal becomes the consumer's filter_subject; anything wider is matched client-side.
 */
export function planStreams(filter: TailFilter): {streams: StreamPlan[]; rpc: boolean} {
  let families: Family[] = filter.family ? [filter.family] : ['cmd', 'evt', 'task']
  if (filter.subject) families = familiesOf(filter.subject).filter((f) => families.includes(f) || !filter.family)
  if (filter.family) families = families.filter((f) => f === filter.family)
  if (filter.service && !filter.family && !filter.subject) families = ['cmd', 'evt', 'task']
  const streams: StreamPlan[] = []
  for (const family of families) {
    if (family === 'rpc') continue
    const plan: StreamPlan = {family, stream: FAMILY_STREAM[family]}
    const t = filter.subject?.split('.')
    if (t && family !== 'task' && t.length >= 4 && /^[a-z]/.test(t[1]) && t[2] === family) {
      plan.filterSubject = filter.subject
    } else if (t && family === 'task' && t.length >= 4 && t[1] === 'task' && t[2] === 'evt') {
      plan.filterSubject = filter.subject
    } else if (!t && filter.service && family !== 'task') {
      plan.filterSubject = `dv.${filter.service}.${family}.>`
    }
    streams.push(plan)
  }
  return {streams, rpc: families.includes('rpc')}
}

/** Turns a stored message into a tail event, or null when the filter rejects it. */
export function toTailEvent(stored: StoredMessage, filter: TailFilter): TailEvent | null {
  if (filter.subject && !subjectMatches(filter.subject, stored.subject)) return null
  const tokens = stored.subject.split('.')
  const decoded = decodeMessage(stored.data)
  const fields = (decoded.ok ? decoded.envelope : (decoded.value ?? {})) as Record<string, unknown>
  const isObject = fields && typeof fields === 'object' && !Array.isArray(fields)
  const get = (key: string) => (isObject ? fields[key] : undefined)
  if (filter.service) {
    const service = tokens[1] === 'task' ? get('source') : tokens[1]
    if (service !== filter.service) return null
  }
  // An invalid message passes a filter on a field it lacks only through the raw-byte match (correlation).
  if (filter.correlationId && get('correlation_id') !== filter.correlationId) {
    if (decoded.ok || get('correlation_id') !== undefined) return null
  }
  if (filter.type && !typeMatcher(filter.type)(get('type'))) return null
  if (filter.tenant && get('tenant_id') !== filter.tenant) return null
  const base = {
    site: stored.site,
    stream: stored.stream,
    seq: stored.seq,
    subject: stored.subject,
    time: stored.time,
    ...(stored.headers ? {headers: stored.headers} : {}),
  }
  if (decoded.ok) return {kind: 'message', ...base, envelope: decoded.envelope as Record<string, unknown>}
  return {kind: 'invalid', ...base, invalid: true, problems: decoded.problems as Problem[], raw: decoded.raw}
}

/**
 * Messages of the selected streams and sites that match the filter (README, "Commands"): the history in
 * time order, merged across sites and streams with one message in memory per stream, then (with `follow`)
 * live messages in arrival order. A site that drops is reported and resumes from the last sequence seen.
 */
export function tailMessages(connections: readonly SiteConnection[], options: TailOptions): AsyncIterable<TailEvent> {
  const queue = new EventQueue<TailEvent>()
  void runTail(connections, options, queue).then(
    () => queue.end(),
    (error) => {
      queue.push({kind: 'note', message: `tail stopped: ${describeNatsError(error).error}`})
      queue.end()
    },
  )
  return queue
}

async function runTail(
  connections: readonly SiteConnection[],
  options: TailOptions,
  queue: EventQueue<TailEvent>,
): Promise<void> {
  const {filter} = options
  if (options.signal?.aborted) return
  const plan = planStreams(filter)
  const needle = filter.correlationId ? correlationNeedle(filter.correlationId) : undefined
  const stops: Array<() => void> = []
  const onAbort = () => queue.end()
  options.signal?.addEventListener('abort', onAbort, {once: true})
  try {
    if (plan.rpc) {
      if (options.follow) for (const conn of connections) stops.push(subscribeRpc(conn, filter, options, queue))
      else queue.push({kind: 'note', message: 'rpc messages are not stored; use --follow to see them live'})
    }
    const events = readStreams(
      connections.flatMap((conn) =>
        plan.streams.map((s) => ({conn, stream: s.stream, filterSubject: s.filterSubject, needle})),
      ),
      {
        order: 'time',
        start: options.history ? (options.window.from ? {time: options.window.from} : undefined) : 'new',
        to: options.window.to,
        follow: options.follow,
        headers: options.headers,
        signal: options.signal,
      },
    )
    for await (const event of events) {
      switch (event.kind) {
        case 'message': {
          const tail = toTailEvent(event.message, filter)
          if (tail) await queue.put(tail)
          break
        }
        case 'caught-up':
          queue.push({kind: 'caught-up'})
          break
        case 'site-down':
        case 'site-up':
          queue.push({kind: event.kind, site: event.site})
          break
        case 'stream-missing':
          queue.push(event)
          break
        case 'site-error':
          queue.push({kind: 'site-error', site: event.site, ...describeNatsError(event.error)})
          break
        case 'failed':
          throw event.error
      }
      if (queue.done) break
    }
  } finally {
    options.signal?.removeEventListener('abort', onAbort)
    for (const stop of stops) stop()
  }
}

/** dv.rpc.* is request/reply on core NATS: it can only be watched live. */
function subscribeRpc(
  conn: SiteConnection,
  filter: TailFilter,
  options: TailOptions,
  queue: EventQueue<TailEvent>,
): () => void {
  const subject = filter.subject && filter.subject.startsWith('dv.rpc.') ? filter.subject : 'dv.rpc.>'
  const sub = conn.nc.subscribe(subject, {
    callback: (_err, msg) => {
      const headers: Record<string, string[]> | undefined =
        options.headers && msg.headers ? Object.fromEntries([...msg.headers].map(([k, v]) => [k, v])) : undefined
      const event = toTailEvent(
        {
          site: conn.site.name,
          stream: '',
          seq: 0,
          subject: msg.subject,
          time: new Date().toISOString(),
          data: msg.data,
          headers,
        },
        filter,
      )
      if (event) queue.push({...event, stream: null, seq: null} as TailEvent)
    },
  })
  return () => sub.unsubscribe()
}
