import type {ConsumerMessages, JsMsg} from '@nats-io/jetstream'

import {decodeMessage, newEnvelope, type Envelope} from '../../contract/envelope.js'
import type {Service, TaskVerb} from '../../contract/services.js'
import {STREAMS} from '../../layout/names.js'
import type {SiteConnection} from '../../nats/connection.js'
import {nameUuid, pastTense, SERVICE_ENTITY} from './naming.js'
import {supportsTermReason} from '../../nats/server-version.js'

/**
 * Simulated Dataverket workers (README, sandbox): a service's durable consumer on DV_CMD, emitting the
 * domain event and the full task lifecycle for each command, the way a real worker is expected to.
 *
 * Causation is flat: every message a worker emits for a command has `causation_id` = the command's `id`
 * and the command's `correlation_id`, so the dead-letter join of docs/operations.md, dead letters (a `failed` task event
 * whose `causation_id` is the dead command's id) is one lookup, and a workflow tree shows the command with
 * its task events and domain event as children.
 */

/** What the worker does with one command delivery. */
export type WorkerOutcome =
  /** created, queued, started, progress..., the domain event, succeeded; then ack. */
  | 'succeed'
  /** created, queued, started, progress, `failed` (retryable false); then term: a dead letter (terminated). */
  | 'fail'
  /**
   * started once, then nak on every delivery until the consumer's max_deliver is exhausted (the server's
   * MAX_DELIVERIES advisory: a dead letter). On the last delivery a `failed` event (retryable true) is emitted.
   */
  | 'transient'
  /** Like 'fail' with a chosen error. */
  | {fail: {code: string; message: string}}

export type WorkerBehaviour = WorkerOutcome | ((command: WorkerCommand) => WorkerOutcome | Promise<WorkerOutcome>)

export interface WorkerCommand {
  subject: string
  envelope: Envelope
  /** Stream sequence of the command in DV_CMD. */
  seq: number
  /** 1 on the first delivery. */
  delivery: number
}

export interface WorkerOptions {
  service: Service
  /** Default 'succeed'. A function decides per command (e.g. fail only tenant "poison"). */
  behaviour?: WorkerBehaviour
  /** Number of `progress` events between `started` and the end (default 2). */
  progressSteps?: number
  /** Durable consumer on DV_CMD to pull from; default the layout's consumer named after the service. */
  consumer?: string
  /** Pause between lifecycle events, so a demo or a live `task watch` can see them move (default 0). */
  stepDelayMs?: number
  /** Delay asked for on each nak of a transient failure (default 0: redeliver at once). */
  nakDelayMs?: number
  /** Called after each delivery was handled (tests wait on it). */
  onHandled?: (command: WorkerCommand, outcome: WorkerOutcome) => void
}

export interface Worker {
  /** Stops pulling; a delivery in progress finishes first. */
  stop(): Promise<void>
  /** Deliveries handled so far. */
  readonly handled: number
}

/** Subjects and fields of the messages a worker emits for one command. */
interface EmitContext {
  command: Envelope
  service: Service
  taskId: string
  /** Names derived ids: same command delivery, same ids. */
  idPrefix: string
}

/** The task id a worker reports for a command: `data.task_id` when the sender chose one, else derived. */
export function taskIdFor(command: Envelope, seq: number): string {
  const given = (command.data as Record<string, unknown>)?.task_id
  if (typeof given === 'string' && given) return given
  return `tsk-${nameUuid(`${command.id}:${seq}`).slice(0, 13)}`
}

/** Starts pulling commands for one service; returns at once with a handle to stop it. */
export async function startWorker(conn: SiteConnection, options: WorkerOptions): Promise<Worker> {
  const js = await conn.js()
  const consumerName = options.consumer ?? options.service
  const consumer = await js.consumers.get(STREAMS.cmd, consumerName)
  const maxDeliver = (await consumer.info(true)).config.max_deliver ?? -1
  const termWithReason = supportsTermReason(conn.nc.info?.version)
  let handled = 0
  let messages: ConsumerMessages | undefined
  let stopped = false

  const emit = async (ctx: EmitContext, subject: string, name: string, type: string, data: Record<string, unknown>) => {
    const id = nameUuid(`${ctx.idPrefix}:${name}`)
    const envelope = eventEnvelope(ctx, {
      id,
      type,
      subject: subject.startsWith('dv.task.') ? ctx.taskId : undefined,
      data,
    })
    // msgID sets Nats-Msg-Id: a redelivered command's re-emitted events fall in the duplicate window.
    await js.publish(subject, JSON.stringify(envelope), {msgID: id})
    if (options.stepDelayMs) await sleep(options.stepDelayMs)
  }
  const task = (ctx: EmitContext, verb: TaskVerb, extra: Record<string, unknown> = {}, name: string = verb) =>
    emit(ctx, `dv.task.evt.${verb}`, name, `task.${verb}`, {task_id: ctx.taskId, state: verb, ...extra})

  const handle = async (msg: JsMsg) => {
    const decoded = decodeMessage(msg.data, {subject: msg.subject})
    if (!decoded.ok) {
      // A poison message: no task to report on. Term it so it becomes a visible dead letter.
      msg.term(termWithReason ? `invalid envelope: ${decoded.problems[0]?.message ?? 'unreadable'}` : undefined)
      handled++
      return
    }
    const envelope = decoded.envelope
    const command: WorkerCommand = {
      subject: msg.subject,
      envelope,
      seq: msg.info.streamSequence,
      delivery: msg.info.deliveryCount,
    }
    const behaviour = options.behaviour ?? 'succeed'
    const outcome = typeof behaviour === 'function' ? await behaviour(command) : behaviour
    const ctx: EmitContext = {
      command: envelope,
      service: options.service,
      taskId: taskIdFor(envelope, command.seq),
      idPrefix: `${envelope.id}:${command.seq}`,
    }
    const action = msg.subject.split('.')[3] ?? 'work'
    const steps = Math.max(0, options.progressSteps ?? 2)
    try {
      await task(ctx, 'created')
      await task(ctx, 'queued')
      await task(ctx, 'started')
      if (outcome === 'transient') {
        if (maxDeliver > 0 && command.delivery >= maxDeliver) {
          await task(ctx, 'failed', {
            error: {
              code: 'retries-exhausted',
              message: `${action} failed transiently ${command.delivery} times; giving up`,
              retryable: true,
            },
          })
        }
        msg.nak(options.nakDelayMs)
      } else if (outcome === 'succeed') {
        for (let i = 1; i <= steps; i++) {
          const percent = Math.round((i / (steps + 1)) * 100)
          await task(
            ctx,
            'progress',
            {progress: {percent, message: `${action}: step ${i} of ${steps}`}},
            `progress-${i}`,
          )
        }
        const entity = SERVICE_ENTITY[options.service]
        const verb = pastTense(action)
        await emit(
          ctx,
          `dv.${options.service}.evt.${entity}.${verb}`,
          'domain',
          `${options.service}.${entity}.${verb}`,
          domainEventData(envelope, ctx.taskId),
        )
        await task(ctx, 'succeeded', {progress: {percent: 100, message: 'done'}, result: {entity, verb}})
        msg.ack()
      } else {
        const error =
          outcome === 'fail' ? {code: 'worker-failed', message: `${action} failed permanently`} : outcome.fail
        if (steps > 0)
          await task(ctx, 'progress', {progress: {percent: 10, message: `${action}: step 1`}}, 'progress-1')
        await task(ctx, 'failed', {error: {...error, retryable: false}})
        msg.term(termWithReason ? `${error.code}: ${error.message}` : undefined)
      }
    } catch {
      // Emitting failed (server gone, stop during a publish): let the server redeliver the command.
      if (!stopped) msg.nak(options.nakDelayMs)
    }
    handled++
    options.onHandled?.(command, outcome)
  }

  const loop = (async () => {
    while (!stopped) {
      try {
        messages = await consumer.consume({max_messages: 16})
        for await (const msg of messages) {
          await handle(msg)
          if (stopped) break
        }
      } catch {
        if (!stopped) await sleep(250)
      }
    }
  })()

  return {
    get handled() {
      return handled
    },
    async stop() {
      stopped = true
      await messages?.close().catch(() => {})
      messages?.stop()
      await loop
    },
  }
}

function eventEnvelope(
  ctx: EmitContext,
  fields: {id: string; type: string; subject?: string; data: Record<string, unknown>},
): Envelope {
  const c = ctx.command
  return newEnvelope({
    id: fields.id,
    type: fields.type,
    source: ctx.service,
    subject: fields.subject ?? c.subject,
    tenant_id: c.tenant_id,
    project_id: c.project_id,
    environment_id: c.environment_id,
    datacenter_id: c.datacenter_id,
    actor: c.actor,
    correlation_id: c.correlation_id,
    causation_id: c.id,
    data: fields.data,
  })
}

/** The ids a domain event carries over from its command (`server_id`, `network_id`, ...), plus the task id. */
function domainEventData(command: Envelope, taskId: string): Record<string, unknown> {
  const data: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(command.data)) {
    if (key.endsWith('_id') && typeof value === 'string') data[key] = value
  }
  data.task_id = taskId
  return data
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
