import {z} from 'zod'

import type {PayloadRegistry} from '../contract/registry.js'
import {UserError} from '../errors.js'
import {ExitCode} from '../exit-codes.js'
import {hasChanges, summarisePlan} from '../layout/plan.js'
import {DLQ_ARCHIVE_STREAM, STREAMS} from '../layout/names.js'
import type {SiteConnection} from '../nats/connection.js'
import type {Worker, WorkerCommand, WorkerOutcome} from '../sandbox/workers/index.js'
import {demoScenario, isPoison, POISON_ERROR, type DemoCommand} from './scenario.js'

/** One command of the demo, as sent and as handled by its worker. */
export const DemoWorkflow = z.object({
  kind: z.enum(['provisioning', 'network-apply', 'poison']),
  site: z.string(),
  correlation_id: z.string(),
  command_id: z.string(),
  subject: z.string(),
  stream: z.string(),
  seq: z.number(),
  task_id: z.string(),
  /** How the worker ended the task: succeeded, or failed (the poison). */
  outcome: z.enum(['succeeded', 'failed']),
})
export type DemoWorkflow = z.infer<typeof DemoWorkflow>

/** A command the demo suggests next, runnable as is: `command` for people, `argv` (after `dvctl`) for scripts. */
export const NextCommand = z.object({description: z.string(), command: z.string(), argv: z.array(z.string())})
export type NextCommand = z.infer<typeof NextCommand>

/** `dvctl demo --json`. */
export const DemoResult = z.object({
  sites: z.array(
    z.object({
      site: z.string(),
      url: z.string(),
      /** Objects of the dataverket layout created or updated on this run (0: it was in place). */
      layout_changes: z.number(),
      layout_applied: z.boolean(),
    }),
  ),
  /** Set when the demo started (or reused) a local sandbox because no site was reachable. */
  sandbox: z.object({dir: z.string(), config: z.string(), registered_in: z.string().nullable()}).nullable(),
  workflows: z.array(DemoWorkflow),
  dead_letter: z.object({
    ref: z.string(),
    site: z.string(),
    stream: z.string(),
    seq: z.number(),
    consumer: z.string(),
    reason: z.string(),
    error: z.object({code: z.string(), message: z.string()}),
    /** Its original was copied into the dead-letter archive by the demo's `dlq capture`. */
    archived: z.boolean(),
  }),
  next: z.array(NextCommand),
})
export type DemoResult = z.infer<typeof DemoResult>

/** A site the demo runs on, and the flags that select it again in the suggested commands. */
export interface DemoSite {
  conn: SiteConnection
  /** `--server URL`, `--site NAME`, or nothing when it is the default site. */
  selector: string[]
}

export interface RunDemoOptions {
  sites: DemoSite[]
  actor: string
  registry: PayloadRegistry
  /** Bound on waiting for the workers and for the dead-letter advisory. */
  timeoutMs: number
  /** Pause between a worker's lifecycle events, so that `task watch` can see progress move (default 150ms). */
  stepDelayMs?: number
  sandbox?: DemoResult['sandbox']
  /** What is happening, for the command to show on stderr. */
  onStep?: (message: string) => void
}

const WORKER_SERVICES = ['maskin', 'nett', 'plattform'] as const

/**
 * `dvctl demo` (README, sandbox): makes sure each site has the dataverket layout, runs simulated
 * maskin, nett and plattform workers on the layout's own consumers, sends the scenario's commands and waits
 * until each was handled and the poison command's dead-letter advisory is stored in DV_DLQ.
 */
export async function runDemo(options: RunDemoOptions): Promise<DemoResult> {
  const step = options.onStep ?? (() => {})
  const sites: DemoResult['sites'] = []
  for (const {conn} of options.sites) sites.push(await ensureDemoLayout(conn, step))

  const {datacenters} = await siteDatacenters(options.sites.map((s) => s.conn))
  const commands = demoScenario({datacenters, actor: options.actor})
  const handled = new HandledCommands()
  const workers: Worker[] = []
  // `dlq capture` runs in this process while the demo does, so the dead letter keeps its original.
  const stopCapture = new AbortController()
  const {runCapture} = await import('../dlq/capture.js')
  const captures = options.sites.map(({conn}) => runCapture(conn, {signal: stopCapture.signal}))
  for (const c of captures) c.catch(() => {})
  step('dlq capture running: dead letters are copied into the dead-letter archive')
  try {
    const {startWorker} = await import('../sandbox/workers/index.js')
    for (const {conn} of options.sites) {
      for (const service of WORKER_SERVICES) {
        workers.push(
          await startWorker(conn, {
            service,
            progressSteps: service === 'maskin' ? 3 : 1,
            stepDelayMs: options.stepDelayMs ?? 150,
            behaviour: (cmd) =>
              service === 'plattform' && isPoison(cmd.envelope.data) ? {fail: POISON_ERROR} : 'succeed',
            onHandled: (cmd, outcome) => handled.record(conn.site.name, cmd, outcome),
          }),
        )
      }
      step(`${conn.site.name}: maskin, nett and plattform workers running`)
    }

    const sent = []
    for (const command of commands) sent.push(await sendCommand(options, command, step))

    const deadline = Date.now() + options.timeoutMs
    const workflows: DemoWorkflow[] = []
    const {taskIdFor} = await import('../sandbox/workers/index.js')
    for (const s of sent) {
      const outcome = await handled.wait(s.site, s.commandId, deadline)
      workflows.push({
        kind: s.kind,
        site: s.site,
        correlation_id: s.correlationId,
        command_id: s.commandId,
        subject: s.subject,
        stream: s.stream,
        seq: s.seq,
        task_id: taskIdFor(s.envelope as never, s.seq),
        outcome: outcome === 'succeed' ? 'succeeded' : 'failed',
      })
    }
    step('every command was handled')

    const poison = workflows.find((w) => w.kind === 'poison')!
    const poisonSite = options.sites.find((s) => s.conn.site.name === poison.site)!
    const advisory = await waitForDeadLetter(poisonSite.conn, poison.seq, deadline)
    step(`${poison.site}: ${STREAMS.cmd}:${poison.seq} was dead-lettered (${advisory.reason})`)
    const archived = await waitForArchive(poisonSite.conn, poison.seq, deadline)
    if (archived) step(`${poison.site}: ${STREAMS.cmd}:${poison.seq} archived in ${DLQ_ARCHIVE_STREAM}`)
    return {
      sites,
      sandbox: options.sandbox ?? null,
      workflows,
      dead_letter: {
        ref: `${STREAMS.cmd}:${poison.seq}`,
        site: poison.site,
        stream: STREAMS.cmd,
        seq: poison.seq,
        consumer: advisory.consumer,
        reason: advisory.reason,
        error: POISON_ERROR,
        archived,
      },
      next: nextCommands(options.sites, workflows, `${STREAMS.cmd}:${poison.seq}`),
    }
  } finally {
    stopCapture.abort()
    await Promise.allSettled([...workers.map((w) => w.stop()), ...captures])
  }
}

/** Waits (until the deadline) for the capture to archive the dead letter; false when it did not in time. */
async function waitForArchive(conn: SiteConnection, seq: number, deadline: number): Promise<boolean> {
  const {OriginalReader} = await import('../dlq/original.js')
  const reader = new OriginalReader(conn)
  for (;;) {
    if (await reader.archived(STREAMS.cmd, seq)) return true
    if (Date.now() > deadline) return false
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
}

async function ensureDemoLayout(conn: SiteConnection, step: (message: string) => void) {
  const {ensureLayout, planSite} = await import('../layout/apply.js')
  const {plan} = await planSite(conn)
  const site = conn.site.name
  if (!hasChanges(plan)) {
    step(`${site}: layout dataverket already in place`)
    return {site, url: conn.url, layout_changes: 0, layout_applied: false}
  }
  const summary = summarisePlan(plan.changes)
  step(
    `${site}: layout dataverket is not in place (${summary.create} to create, ${summary.update} to update); applying it`,
  )
  const result = await ensureLayout(conn)
  const changed = result.changes.filter((c) => c.action !== 'noop').length
  step(`${site}: layout dataverket applied (${summary.create} created, ${summary.update} updated)`)
  return {site, url: conn.url, layout_changes: changed, layout_applied: true}
}

async function siteDatacenters(conns: SiteConnection[]) {
  return {datacenters: await Promise.all(conns.map(async (c) => (await c.identity()).datacenterId ?? undefined))}
}

async function sendCommand(options: RunDemoOptions, command: DemoCommand, step: (message: string) => void) {
  const {conn} = options.sites[command.siteIndex]
  const {buildMessage} = await import('../publish/envelope.js')
  const {publishMessage} = await import('../publish/publish.js')
  const message = buildMessage(command.input, {
    registry: options.registry,
    families: ['cmd'],
    otherCommand: 'dvctl request',
    maxPayload: conn.nc.info?.max_payload,
  })
  if (message.problems.length) {
    // The scenario is fixed: a problem here is a bug in dvctl, not something the user can fix.
    throw new Error(`demo command ${command.input.subject} is invalid: ${message.problems[0].message}`)
  }
  const {result} = await publishMessage(conn, {message})
  step(`${conn.site.name}: sent ${message.subject} (${result.stream}:${result.seq}, ${command.kind})`)
  return {
    kind: command.kind,
    site: conn.site.name,
    subject: message.subject,
    envelope: message.envelope,
    commandId: String(message.envelope.id),
    correlationId: String(message.envelope.correlation_id),
    stream: result.stream ?? STREAMS.cmd,
    seq: result.seq ?? 0,
  }
}

/** Which commands the workers have handled, by site and envelope id; waiters are woken as they come in. */
class HandledCommands {
  private readonly done = new Map<string, WorkerOutcome>()
  private readonly waiters = new Set<() => void>()

  record(site: string, command: WorkerCommand, outcome: WorkerOutcome): void {
    this.done.set(`${site}|${command.envelope.id}`, outcome)
    for (const wake of this.waiters) wake()
  }

  async wait(site: string, id: string, deadline: number): Promise<WorkerOutcome> {
    const key = `${site}|${id}`
    while (!this.done.has(key)) {
      const left = deadline - Date.now()
      if (left <= 0) throw workersTimedOut(site)
      await new Promise<void>((resolve) => {
        const wake = () => {
          clearTimeout(timer)
          this.waiters.delete(wake)
          resolve()
        }
        const timer = setTimeout(wake, Math.min(left, 500))
        this.waiters.add(wake)
      })
    }
    return this.done.get(key)!
  }
}

function workersTimedOut(site: string) {
  return new UserError(`Site ${site}: the demo's commands were not all handled in time`, {
    code: 'demo-timeout',
    exitCode: ExitCode.timeout,
    hint: `Real workers on the same service consumers may have taken them, or other commands were queued first (dvctl doctor --site ${site} shows backlogs); run the demo in a sandbox (dvctl demo without --site/--server), or raise --wait-timeout.`,
  })
}

/** Polls DV_DLQ for the advisory about the poison command: the server publishes it just after the term. */
async function waitForDeadLetter(conn: SiteConnection, seq: number, deadline: number) {
  const {readAdvisories} = await import('../dlq/read.js')
  const ref = `${STREAMS.cmd}:${seq}`
  for (;;) {
    const found = (await readAdvisories(conn, {refs: new Set([ref])})).get(ref)
    if (found) return found.advisory
    if (Date.now() > deadline) {
      throw new UserError(`Site ${conn.site.name}: no dead-letter advisory for ${ref} arrived in ${STREAMS.dlq}`, {
        code: 'demo-no-dead-letter',
        exitCode: ExitCode.timeout,
        hint: `Check that ${STREAMS.dlq} captures the advisories: dvctl doctor --site ${conn.site.name}.`,
      })
    }
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
}

/** The commands to try next, with the real ids, each selecting the demo's sites the way the demo was given them. */
export function nextCommands(sites: DemoSite[], workflows: DemoWorkflow[], deadLetterRef: string): NextCommand[] {
  const first = sites[0].selector
  const provisioning = workflows.find((w) => w.kind === 'provisioning')!
  const network = workflows.find((w) => w.kind === 'network-apply')
  const all = sites.flatMap((s) => s.selector)
  const next: NextCommand[] = [
    {
      description: 'the provisioning workflow as a causation tree',
      argv: ['workflow', 'show', provisioning.correlation_id, ...first],
    },
    ...(network
      ? [
          {
            description: 'the network change applied in both datacenters, one correlation',
            argv: ['workflow', 'show', network.correlation_id, ...all],
          },
        ]
      : []),
    {
      description: 'the task of the provisioning, until it is done',
      argv: ['task', 'watch', '--correlation', provisioning.correlation_id, '--until-done', ...first],
    },
    {description: 'the dead letter and the worker error', argv: ['dlq', 'list', ...first]},
    {
      description: 'what a replay would send (nothing is sent)',
      argv: ['dlq', 'replay', deadLetterRef, '--dry-run', ...first],
    },
    {description: "the health of the demo's sites", argv: ['doctor', ...all]},
  ].map((n) => ({...n, command: ['dvctl', ...n.argv].map(shellQuote).join(' ')}))
  return next
}

function shellQuote(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`
}
