import {TextDecoder} from 'node:util'

import {z} from 'zod'

import {STREAMS} from '../layout/names.js'
import type {SiteConnection} from '../nats/connection.js'
import {connectionError} from '../nats/errors.js'
import type {SiteStatus} from '../nats/fanout.js'
import {drainStream, StreamMissing, type ScanWindow, type StoredMessage} from '../nats/reader.js'
import {SiteReport, siteReports} from '../nats/site-report.js'
import {parseAdvisory, toDeadLetter, type Advisory, type WorkflowDeadLetter} from './dead-letters.js'
import {
  buildCausationTree,
  deriveStatus,
  isFailure,
  taskStates,
  type CausationNode,
  type WorkflowMessage,
} from './tree.js'

/** The streams a workflow lives in (README); DV_DLQ is read for the dead letters. */
export const WORKFLOW_STREAMS = [STREAMS.cmd, STREAMS.evt, STREAMS.task] as const

const CausationNodeSchema: z.ZodType<CausationNode> = z.lazy(() =>
  z.object({
    id: z.string(),
    children: z.array(CausationNodeSchema),
    folded: z.object({levels: z.number(), messages: z.number()}).optional(),
  }),
)

export const WorkflowMessageSchema = z.object({
  site: z.string(),
  stream: z.string(),
  seq: z.number(),
  subject: z.string(),
  time: z.string(),
  id: z.string(),
  causation_id: z.string().nullable(),
  type: z.string().nullable(),
  envelope: z.record(z.string(), z.unknown()),
})

export const WorkflowDeadLetterSchema = z.object({
  ref: z.string(),
  site: z.string(),
  stream: z.string(),
  seq: z.number(),
  consumer: z.string(),
  reason: z.enum(['max_deliveries', 'terminated']),
  deliveries: z.number().nullable(),
  dead_lettered_at: z.string(),
  id: z.string(),
  advisory: z.object({stream: z.string(), seq: z.number()}),
})

/** `workflow show --json` (docs/architecture.md, JSON results); fields beyond the documented ones are additions. */
export const WorkflowResult = z.object({
  correlation_id: z.string(),
  sites: z.array(SiteReport),
  window: z.object({from: z.string().nullable(), to: z.string().nullable()}),
  messages: z.array(WorkflowMessageSchema),
  roots: z.array(z.string()),
  orphans: z.array(z.string()),
  tree: z.array(CausationNodeSchema),
  dead_letters: z.array(WorkflowDeadLetterSchema),
  failures: z.array(z.string()),
  duplicates: z.array(
    z.object({
      id: z.string(),
      count: z.number(),
      copies: z.array(z.object({site: z.string(), stream: z.string(), seq: z.number()})),
    }),
  ),
  tasks: z.array(z.object({task_id: z.string(), site: z.string(), state: z.string(), id: z.string()})),
  status: z.enum(['running', 'succeeded', 'failed', 'dead-lettered']),
  scanned: z.number(),
})
export type WorkflowResult = z.infer<typeof WorkflowResult>

export interface ReadWorkflowOptions {
  correlationId: string
  window: ScanWindow
  /** Sites the fan-out could not reach; listed in `sites` with their error. */
  unreachable?: readonly SiteStatus[]
  /** Messages per pull request. */
  batch?: number
}

/** The bytes a message of the correlation must contain: the id as it appears inside a JSON string. */
export function correlationNeedle(correlationId: string): Uint8Array {
  return Buffer.from(JSON.stringify(correlationId).slice(1, -1), 'utf8')
}

/** Parses a stored message as an envelope of `correlationId`, or null when it is not one. */
export function toWorkflowMessage(stored: StoredMessage, correlationId: string): WorkflowMessage | null {
  const value = parseStored(stored)
  return value === undefined ? null : workflowMessageOf(stored, value, correlationId)
}

const utf8 = new TextDecoder('utf-8')

/**
 * A stored message's payload as JSON, or undefined when it is not JSON. The lenient decoder (invalid bytes
 * become U+FFFD, as Buffer's toString makes them) straight from the bytes: no Buffer made per message.
 */
export function parseStored(stored: Pick<StoredMessage, 'data'>): unknown {
  try {
    return JSON.parse(utf8.decode(stored.data))
  } catch {
    return undefined
  }
}

/** An envelope as a workflow reads it: a JSON object with a string `id` and `correlation_id`; else null. */
export type WorkflowEnvelope = Record<string, unknown> & {id: string; correlation_id: string}

export function workflowEnvelope(value: unknown): WorkflowEnvelope | null {
  if (!value || typeof value !== 'object' || Array.isArray(value)) return null
  const envelope = value as Record<string, unknown>
  if (typeof envelope.correlation_id !== 'string' || typeof envelope.id !== 'string') return null
  return envelope as WorkflowEnvelope
}

/** When a message happened (ms): the envelope's `time` when valid, else when the stream stored it. */
export function messageTime(envelope: Record<string, unknown>, storedTime: string): number {
  const time = typeof envelope.time === 'string' ? Date.parse(envelope.time) : NaN
  return Number.isNaN(time) ? Date.parse(storedTime) : time
}

/** The message that caused this one (`causation_id`), or null for a workflow start. */
export function causationOf(envelope: Record<string, unknown>): string | null {
  return typeof envelope.causation_id === 'string' && envelope.causation_id ? envelope.causation_id : null
}

/** A decoded envelope as a message of the workflow, or null when it does not belong to `correlationId`. */
export function workflowMessageOf(
  where: Omit<StoredMessage, 'data' | 'headers'>,
  value: unknown,
  correlationId: string,
): WorkflowMessage | null {
  const envelope = workflowEnvelope(value)
  if (!envelope || envelope.correlation_id !== correlationId) return null
  return {
    site: where.site,
    stream: where.stream,
    seq: where.seq,
    subject: where.subject,
    time: new Date(messageTime(envelope, where.time)).toISOString(),
    id: envelope.id,
    causation_id: causationOf(envelope),
    type: typeof envelope.type === 'string' ? envelope.type : null,
    envelope,
  }
}

interface SiteRead extends SiteDrain {
  messages: WorkflowMessage[]
  advisories: Array<{advisory: Advisory; stored: StoredMessage}>
}

/** One stream of a site to drain: its byte pre-filter, and what to do with each message that passes it. */
export interface DrainSpec {
  stream: string
  needle?: Uint8Array
  take: (stored: StoredMessage) => void
}

/** How the drain of one site's streams went: the messages scanned, streams it lacks, or its one error. */
export interface SiteDrain {
  site: string
  missing: string[]
  /** The site's error (connection, stall) in the words of every other connection error, and its code. */
  error?: string
  code?: string
  scanned: number
}

/**
 * Drains the history of several streams of one site concurrently (one ordered consumer each, through the one
 * stream reader), handing each stored message that passes a stream's byte filter to its `take`. A missing
 * stream is listed; a failure is the site's error (the other streams still finish). Never throws.
 */
export async function drainSite(
  conn: SiteConnection,
  specs: readonly DrainSpec[],
  options: {window: ScanWindow; batch?: number; signal?: AbortSignal},
): Promise<SiteDrain> {
  const drained: SiteDrain = {site: conn.site.name, missing: [], scanned: 0}
  const {window} = options
  // The first stream of the site that fails (its server stopped answering) ends the site's other reads: they
  // would each wait out their own --timeout, or first work through what they had buffered, before failing too.
  const siteFailed = new AbortController()
  const signal = options.signal ? AbortSignal.any([options.signal, siteFailed.signal]) : siteFailed.signal
  let failed: unknown
  const settled = await Promise.allSettled(
    specs.map(async (spec) => {
      try {
        return await drainStream(
          conn,
          {stream: spec.stream, needle: spec.needle},
          {start: window.from ? {time: window.from} : undefined, to: window.to, batch: options.batch, signal},
          spec.take,
        )
      } catch (error) {
        if (!(error instanceof StreamMissing) && failed === undefined) {
          failed = error
          siteFailed.abort()
        }
        throw error
      }
    }),
  )
  settled.forEach((s, i) => {
    if (s.status === 'fulfilled') drained.scanned += s.value
    else if (s.reason instanceof StreamMissing) drained.missing.push(specs[i].stream)
  })
  if (failed !== undefined) {
    // One line naming the site, in the words and with the code of every other connection error.
    const failure = connectionError(conn.site, conn.url, failed)
    drained.error = failure.message
    drained.code = failure.code
  }
  return drained
}

async function readSite(conn: SiteConnection, options: ReadWorkflowOptions): Promise<SiteRead> {
  const messages: WorkflowMessage[] = []
  const advisories: SiteRead['advisories'] = []
  const needle = correlationNeedle(options.correlationId)
  const drained = await drainSite(
    conn,
    [
      ...WORKFLOW_STREAMS.map((stream) => ({
        stream,
        needle,
        take: (stored: StoredMessage) => {
          const m = toWorkflowMessage(stored, options.correlationId)
          if (m) messages.push(m)
        },
      })),
      {
        // Advisories name no correlation, only (stream, seq): they are matched once the messages are known.
        stream: STREAMS.dlq,
        take: (stored: StoredMessage) => {
          const advisory = parseAdvisory(stored.data)
          if (advisory && (WORKFLOW_STREAMS as readonly string[]).includes(advisory.stream))
            advisories.push({advisory, stored})
        },
      },
    ],
    {window: options.window, batch: options.batch},
  )
  return {...drained, messages, advisories}
}

/** Everything read from the sites, before assembly: every copy of every message, and the dead letters. */
export interface WorkflowReading {
  correlationId: string
  sites: WorkflowResult['sites']
  window: ScanWindow
  /** Every copy read (duplicates included), from every site. */
  messages: WorkflowMessage[]
  deadLetters: WorkflowDeadLetter[]
  scanned: number
}

/**
 * Reads every message of one correlation from the given sites, concurrently (docs/architecture.md, reading streams),
 * and builds its causation tree, dead letters, failures and status. A site that fails is reported in
 * `sites[].error`; the others are still read.
 */
export async function readWorkflow(
  connections: readonly SiteConnection[],
  options: ReadWorkflowOptions,
): Promise<WorkflowResult> {
  return assembleWorkflow(await collectWorkflow(connections, options))
}

/** The reading half of readWorkflow: the raw material that assembleWorkflow (and live follow) build on. */
export async function collectWorkflow(
  connections: readonly SiteConnection[],
  options: ReadWorkflowOptions,
): Promise<WorkflowReading> {
  const reads = await Promise.all(connections.map((conn) => readSite(conn, options)))
  const multiSite = connections.length + (options.unreachable?.filter((s) => s.error).length ?? 0) > 1
  const deadLetters: WorkflowDeadLetter[] = []
  // Each site's JetStream domain, asked only of sites whose read had advisories and ended well: a site that
  // stopped answering mid-read would hold the command for another --timeout (its advisories are then kept
  // whatever their domain).
  const domains = await Promise.all(
    reads.map(async (read, i) =>
      read.advisories.length && !read.error ? ((await connections[i].identity()).jsDomain ?? undefined) : undefined,
    ),
  )
  reads.forEach((read, i) => {
    const bySeq = new Map(read.messages.map((m) => [`${m.stream}:${m.seq}`, m]))
    for (const {advisory, stored} of read.advisories) {
      const target = bySeq.get(`${advisory.stream}:${advisory.stream_seq}`)
      if (!target) continue
      const letter = toDeadLetter(advisory, stored, target.id, domains[i], multiSite)
      if (letter) deadLetters.push(letter)
    }
  })
  return {
    correlationId: options.correlationId,
    sites: siteReports(reads, options.unreachable),
    window: options.window,
    messages: reads.flatMap((r) => r.messages),
    deadLetters,
    scanned: reads.reduce((n, r) => n + r.scanned, 0),
  }
}

/** Builds the result from what was read: tree, orphans, duplicates, failures, tasks and status. Pure. */
export function assembleWorkflow(reading: WorkflowReading): WorkflowResult {
  const tree = buildCausationTree(reading.messages)
  const tasks = taskStates(tree.messages)
  return {
    correlation_id: reading.correlationId,
    sites: reading.sites,
    window: {from: reading.window.from?.toISOString() ?? null, to: reading.window.to?.toISOString() ?? null},
    messages: tree.messages,
    roots: tree.roots,
    orphans: tree.orphans,
    tree: tree.tree,
    dead_letters: reading.deadLetters,
    failures: tree.messages.filter(isFailure).map((m) => m.id),
    duplicates: tree.duplicates,
    tasks,
    status: deriveStatus(tasks, reading.deadLetters.length),
    scanned: reading.scanned,
  }
}
