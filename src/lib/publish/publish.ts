import {z} from 'zod'

import {ProblemSchema} from '../contract/problem-schema.js'
import {UserError} from '../errors.js'
import {ExitCode} from '../exit-codes.js'
import type {SiteConnection} from '../nats/connection.js'
import {classifyNatsError, connectionError} from '../nats/errors.js'
import {TaskRecordSchema, type TaskBoard} from '../tasks/board.js'
import {taskStreamEnd, TaskMessageLine, watchTasks, type TaskWatchItem, type WatchOutcome} from '../tasks/watch.js'
import type {BuiltMessage} from './envelope.js'

/** Header on every message dvctl sends as test traffic (README). */
export const ORIGIN_HEADER = 'Dv-Origin'
export const ORIGIN = 'dvctl'

/** How far back `--wait` looks for the tasks of a duplicate (well beyond the layout's 2m duplicate window). */
const DUPLICATE_LOOKBACK_MS = 60 * 60_000

/** `publish --wait`: the tasks of the published message's correlation and how they ended. */
export const PublishTaskResult = z.object({
  /** The task when exactly one was seen (the usual case); null otherwise. */
  task_id: z.string().nullable(),
  /** `succeeded`, `failed` (any failed or was cancelled), or `timeout`. */
  state: z.string(),
  events: z.array(TaskMessageLine),
  tasks: z.array(TaskRecordSchema),
})

/** `dvctl publish --json` (docs/architecture.md, JSON results): `{subject, stream, seq, duplicate, envelope}`. */
export const PublishResult = z.object({
  subject: z.string(),
  site: z.string().nullable(),
  /** Null on `--dry-run`. */
  stream: z.string().nullable(),
  seq: z.number().nullable(),
  /** True when JetStream recognised the envelope id within the duplicate window and stored nothing new. */
  duplicate: z.boolean(),
  dry_run: z.boolean(),
  envelope: z.record(z.string(), z.unknown()),
  warnings: z.array(ProblemSchema),
  task: PublishTaskResult.optional(),
})
export type PublishResult = z.infer<typeof PublishResult>

/** A message refused before sending: `{error: {..., problems}}` with `--json`, exit 2. */
export const InvalidMessageError = z.object({
  error: z.object({
    code: z.literal('invalid-message'),
    message: z.string(),
    exitCode: z.literal(ExitCode.usage),
    hint: z.string(),
    problems: z.array(ProblemSchema),
  }),
})

export interface PublishOptions {
  message: BuiltMessage
  /** Called once the message is stored, before any wait (so a human sees it went out). */
  onPublished?: (result: PublishResult) => void
  /** Watch the task events of the message's correlation until every task is terminal (`--wait`). */
  wait?: {
    timeoutMs: number
    /** Ctrl-C: the wait ends (outcome `interrupted`); the message stays published. */
    signal?: AbortSignal
    onItem?: (item: TaskWatchItem, board: TaskBoard) => void | Promise<void>
  }
}

export interface PublishOutcome {
  result: PublishResult
  /** Set with `wait`: how the watch ended. */
  outcome?: WatchOutcome
}

/**
 * Publishes an already validated message to JetStream with `Nats-Msg-Id` = envelope id and `Dv-Origin: dvctl`,
 * then, with `wait`, watches its correlation's task events (README). The caller has checked
 * `message.problems` is empty.
 */
export async function publishMessage(conn: SiteConnection, options: PublishOptions): Promise<PublishOutcome> {
  const {message} = options
  const envelope = message.envelope
  // Read where DV_TASK ends before publishing, so the wait sees exactly what follows (and a site without
  // DV_TASK is refused, exit 5, before anything is sent).
  const afterSeq = options.wait ? await taskStreamEnd(conn) : undefined
  const ack = await jetstreamPublish(conn, message.subject, envelope)
  const result: PublishResult = {
    subject: message.subject,
    site: conn.site.name,
    stream: ack.stream,
    seq: ack.seq,
    duplicate: ack.duplicate,
    dry_run: false,
    envelope,
    warnings: message.warnings,
  }
  options.onPublished?.(result)
  if (!options.wait) return {result}
  const events: z.infer<typeof TaskMessageLine>[] = []
  const {outcome, board} = await watchTasks([conn], {
    filter: {correlationId: String(envelope.correlation_id)},
    // A duplicate was published earlier (within the duplicate window): its tasks may already be under way.
    ...(ack.duplicate ? {sinceMs: DUPLICATE_LOOKBACK_MS} : {afterSeq}),
    live: true,
    untilDone: true,
    timeoutMs: options.wait.timeoutMs,
    signal: options.wait.signal,
    onItem: async (item, b) => {
      if (item.kind === 'message') events.push(item.line)
      await options.wait?.onItem?.(item, b)
    },
  })
  const tasks = board.tasks()
  result.task = {
    task_id: tasks.length === 1 ? tasks[0].task_id : null,
    state: outcome === 'succeeded' || outcome === 'failed' || outcome === 'interrupted' ? outcome : 'timeout',
    events,
    tasks,
  }
  return {result, outcome}
}

/** The result of `--dry-run`: the envelope that would be sent. */
export function dryRunResult(message: BuiltMessage, site: string | null): PublishResult {
  return {
    subject: message.subject,
    site,
    stream: null,
    seq: null,
    duplicate: false,
    dry_run: true,
    envelope: message.envelope,
    warnings: message.warnings,
  }
}

async function jetstreamPublish(conn: SiteConnection, subject: string, envelope: Record<string, unknown>) {
  const {headers} = await import('@nats-io/transport-node')
  const js = await conn.js()
  const id = String(envelope.id)
  const h = headers()
  h.set(ORIGIN_HEADER, ORIGIN)
  try {
    return await js.publish(subject, JSON.stringify(envelope), {msgID: id, headers: h})
  } catch (error) {
    const {kind} = classifyNatsError(error)
    if (kind === 'no-responders' || kind === 'no-jetstream') {
      // Nobody answered: either the site has no JetStream at all (exit 4), or no stream stores the subject.
      const unavailable = await jetstreamUnavailable(conn)
      if (unavailable) throw connectionError(conn.site, conn.url, unavailable)
      throw new UserError(`No stream on site ${conn.site.name} stores ${subject}; nothing was stored.`, {
        code: 'no-stream',
        exitCode: ExitCode.notFound,
        hint: 'Create the standard streams with dvctl layout apply (DV_CMD, DV_EVT, DV_TASK).',
      })
    }
    throw connectionError(conn.site, conn.url, error)
  }
}

/** The error of asking the site's JetStream for its account, when it has no JetStream to answer; else undefined. */
async function jetstreamUnavailable(conn: SiteConnection): Promise<unknown> {
  try {
    await (await conn.jsm()).getAccountInfo()
    return undefined
  } catch (error) {
    // jsm() reports its failure translated already (connectionError).
    if (error instanceof UserError) return error.code === 'jetstream-unavailable' ? error : undefined
    const {kind} = classifyNatsError(error)
    return kind === 'no-responders' || kind === 'no-jetstream' ? error : undefined
  }
}
