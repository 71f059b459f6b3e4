import {notFound} from '../errors.js'
import type {SiteConnection} from '../nats/connection.js'
import {describeNatsError} from '../nats/errors.js'
import type {WorkflowResult} from '../workflow/read.js'
import {failuresFor, readFailures} from './failures.js'
import {Ledger} from './ledger.js'
import type {DlqShowResult} from './model.js'
import {OriginalReader, parseEnvelope} from './original.js'
import {withOutcomes} from './outcome.js'
import {formatRef, ledgerKey, parseRef} from './ref.js'
import {readDeadLetters} from './read.js'

/** How far before the dead command the workflow around it is read. */
const WORKFLOW_LOOKBACK_MS = 24 * 3_600_000

export interface ShowResult extends DlqShowResult {
  /** The full workflow read, for the tree renderer (also in `workflow`). */
  workflowResult?: WorkflowResult
}

/**
 * Everything known about one dead letter (docs/operations.md, dead letters): the advisory, the original's headers and
 * envelope, the failure events, the ledger history and the workflow around it (its correlation's tree).
 * A missing original still shows the advisory, the ledger and whatever the failure events say.
 */
export async function showDeadLetter(conn: SiteConnection, options: {ref: string}): Promise<ShowResult> {
  const ref = parseRef(options.ref)
  const local = formatRef(ref)
  const [letter] = await readDeadLetters(conn, {refs: new Set([local]), status: 'all', qualified: false})
  if (!letter) {
    throw notFound(
      `No dead letter ${local} on site ${conn.site.name}.`,
      'dead-letter-not-found',
      'dvctl dlq list --status all shows the references.',
    )
  }
  const jsm = await conn.jsm()
  const [advisoryMsg, original, ledger] = await Promise.all([
    jsm.streams.getMessage(letter.advisory.stream, {seq: letter.advisory.seq}).catch(() => null),
    // Only an original that is provably the message that failed is shown as it (read.ts, provenance.ts).
    letter.missing_reason === null && letter.status !== 'invalid'
      ? new OriginalReader(conn).forLetter(letter)
      : Promise.resolve(null),
    Ledger.open(conn, {create: false}),
  ])
  const {loadTriage, triageOf} = await import('./triage.js')
  const triage = triageOf(letter, await loadTriage(conn))
  const envelope = original ? parseEnvelope(original.data) : null

  const failureEvents = letter.original_time
    ? failuresFor(
        await readFailures(conn, {
          ids: new Set(letter.id ? [letter.id] : []),
          correlations: new Set(letter.correlation_id ? [letter.correlation_id] : []),
          from: new Date(Date.parse(letter.original_time) - 1000),
          envelopes: true,
        }),
        letter,
      )
    : []

  let workflow: DlqShowResult['workflow'] = {source: 'none', correlation_id: letter.correlation_id, messages: []}
  let workflowResult: WorkflowResult | undefined
  if (letter.correlation_id) {
    try {
      const {readWorkflow} = await import('../workflow/read.js')
      const from = Date.parse(letter.original_time ?? letter.dead_lettered_at) - WORKFLOW_LOOKBACK_MS
      workflowResult = await readWorkflow([conn], {
        correlationId: letter.correlation_id,
        window: {from: new Date(from)},
      })
      workflow = {source: 'workflow', ...workflowResult}
    } catch (error) {
      workflow = {...workflow, error: describeNatsError(error).error}
    }
  }

  const history = ledger ? await ledger.history(ledgerKey(ref), local) : []
  const replays = await withOutcomes(conn, history, () => letter.id)

  return {
    dead_letter: letter,
    advisory: advisoryMsg ? (parseEnvelope(advisoryMsg.data) ?? null) : null,
    envelope,
    raw: original && !envelope ? new TextDecoder().decode(original.data) : null,
    headers: original?.headers ?? {},
    failure_events: failureEvents.map((e) => ({
      site: e.message.site,
      stream: e.message.stream,
      seq: e.message.seq,
      subject: e.message.subject,
      time: e.message.time,
      envelope: e.envelope,
    })),
    history,
    replays,
    triage,
    workflow,
    ...(workflowResult ? {workflowResult} : {}),
  }
}
