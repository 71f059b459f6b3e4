import type {SiteConnection} from '../nats/connection.js'
import {describeNatsError} from '../nats/errors.js'
import {STREAMS} from '../layout/names.js'
import {EventQueue} from '../nats/event-queue.js'
import {readStreams, type ScanWindow, type StoredMessage} from '../nats/reader.js'
import {parseAdvisory, toDeadLetter, type Advisory, type WorkflowDeadLetter} from './dead-letters.js'
import {assembleWorkflow, collectWorkflow, workflowMessageOf, type WorkflowResult} from './read.js'
import {tailMessages, type TailEvent} from './tail.js'
import type {WorkflowMessage} from './tree.js'
import type {SiteStatus} from '../nats/fanout.js'

export type WorkflowFollowEvent =
  /** The workflow as read from the history (first event). */
  | {kind: 'snapshot'; result: WorkflowResult}
  /** A new message arrived; `result` is the workflow with it. */
  | {kind: 'message'; message: WorkflowMessage; result: WorkflowResult}
  /** A message of the workflow was dead-lettered. */
  | {kind: 'dead-letter'; deadLetter: WorkflowDeadLetter; result: WorkflowResult}
  /** A site dropped, came back, or has a problem (passed through from the tail). */
  | Extract<TailEvent, {kind: 'site-down' | 'site-up' | 'site-error' | 'stream-missing' | 'note'}>

export interface FollowWorkflowOptions {
  correlationId: string
  window: ScanWindow
  unreachable?: readonly SiteStatus[]
  signal?: AbortSignal
}

/**
 * `workflow show --follow`: the workflow as `readWorkflow` gives it, then each new message of the
 * correlation with the tree rebuilt around it. The live consumers open before the history is read and
 * copies seen in both are dropped, so nothing falls in between.
 */
export function followWorkflow(
  connections: readonly SiteConnection[],
  options: FollowWorkflowOptions,
): AsyncIterable<WorkflowFollowEvent> {
  const queue = new EventQueue<WorkflowFollowEvent>()
  void run(connections, options, queue).then(
    () => queue.end(),
    (error) => {
      queue.push({kind: 'note', message: `follow stopped: ${describeNatsError(error).error}`})
      queue.end()
    },
  )
  return queue
}

async function run(
  connections: readonly SiteConnection[],
  options: FollowWorkflowOptions,
  queue: EventQueue<WorkflowFollowEvent>,
): Promise<void> {
  const live = tailMessages(connections, {
    filter: {correlationId: options.correlationId},
    window: {},
    history: false,
    follow: true,
    signal: options.signal,
  })
  const iterator = live[Symbol.asyncIterator]()
  const early: TailEvent[] = []
  // Wait until every live consumer is open ('caught-up' with an empty history), then read the history.
  for (;;) {
    const r = await iterator.next()
    if (r.done) return
    if (r.value.kind === 'caught-up') break
    early.push(r.value)
  }
  // Dead letters too: the advisories stored from now on, opened before the history is read. A site
  // without DV_DLQ (or failing) just has no dead letters to show.
  const stopAdvisories = new AbortController()
  const advisories = readStreams(
    connections.map((conn) => ({conn, stream: STREAMS.dlq})),
    {
      order: 'arrival',
      start: 'new',
      follow: true,
      siteEvents: false,
      signal: options.signal ? AbortSignal.any([options.signal, stopAdvisories.signal]) : stopAdvisories.signal,
    },
  )[Symbol.asyncIterator]()
  for (let r = await advisories.next(); !r.done && r.value.kind !== 'caught-up'; r = await advisories.next());
  const closeAdvisories = () => stopAdvisories.abort()

  const reading = await collectWorkflow(connections, {
    correlationId: options.correlationId,
    window: options.window,
    unreachable: options.unreachable,
  })
  const seen = new Set(reading.messages.map((m) => `${m.site}/${m.stream}:${m.seq}`))
  const seenAdvisories = new Set(reading.deadLetters.map((d) => `${d.site}/${d.advisory.stream}:${d.advisory.seq}`))
  const multiSite = reading.sites.length > 1
  queue.push({kind: 'snapshot', result: assembleWorkflow(reading)})

  // An advisory whose message has not been seen (yet) waits here; new messages are matched against it.
  let unmatched: Array<{advisory: Advisory; stored: StoredMessage; domain: string | undefined}> = []
  const matchAdvisories = () => {
    unmatched = unmatched.filter(({advisory, stored, domain}) => {
      const target = reading.messages.find(
        (m) => m.site === stored.site && m.stream === advisory.stream && m.seq === advisory.stream_seq,
      )
      if (!target) return true
      const deadLetter = toDeadLetter(advisory, stored, target.id, domain, multiSite)
      if (deadLetter) {
        reading.deadLetters.push(deadLetter)
        queue.push({kind: 'dead-letter', deadLetter, result: assembleWorkflow(reading)})
      }
      return false
    })
  }

  const handle = (event: TailEvent) => {
    if (event.kind === 'message') {
      const key = `${event.site}/${event.stream}:${event.seq}`
      if (seen.has(key) || event.stream === null || event.seq === null) return
      seen.add(key)
      const where = {site: event.site, stream: event.stream, seq: event.seq, subject: event.subject, time: event.time}
      const message = workflowMessageOf(where, event.envelope, options.correlationId)
      if (!message) return
      reading.messages.push(message)
      queue.push({kind: 'message', message, result: assembleWorkflow(reading)})
      if (unmatched.length) matchAdvisories()
    } else if (event.kind !== 'invalid' && event.kind !== 'caught-up') {
      queue.push(event)
    }
  }
  for (const event of early) handle(event)
  try {
    await Promise.all([
      (async () => {
        for (let r = await iterator.next(); !r.done; r = await iterator.next()) handle(r.value)
        closeAdvisories()
      })(),
      (async () => {
        for (let r = await advisories.next(); !r.done; r = await advisories.next()) {
          if (r.value.kind !== 'message') continue
          const stored = r.value.message
          const conn = connections.find((c) => c.site.name === stored.site)
          const advisory = parseAdvisory(stored.data)
          const key = `${stored.site}/${stored.stream}:${stored.seq}`
          if (!conn || !advisory || seenAdvisories.has(key)) continue
          seenAdvisories.add(key)
          // The site's JetStream domain (known once the site answered: it is kept on the connection).
          const domain = (await conn.identity()).jsDomain ?? undefined
          unmatched.push({advisory, stored, domain})
          matchAdvisories()
        }
      })(),
    ])
  } finally {
    closeAdvisories()
  }
}
