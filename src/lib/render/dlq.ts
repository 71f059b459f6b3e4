import chalk from 'chalk'

import type {
  DeadLetter,
  DlqHistoryResult,
  HistoryEntry,
  DlqListResult,
  DlqShowResult,
  FailedItem,
  PlannedReplay,
  SkippedItem,
} from '../dlq/model.js'
import {DLQ_ARCHIVE_STREAM} from '../layout/names.js'
import type {CaptureEvent, CaptureSummary} from '../dlq/capture.js'
import type {DlqTriageResult, PlanSelection} from '../dlq/model.js'
import type {WorkflowResult} from '../workflow/read.js'
import {path} from '../value.js'
import {currentOutput} from '../context.js'
import {renderListing, type Listing} from './listing.js'
import {targetText, type ChangeTarget} from './prompt.js'
import {err, formatAge, formatTime, jsonLine, out, table, type Terminal, warn} from './terminal.js'
import {field, prettyJson, safeText, sanitize} from './text.js'

const statusColour: Record<DeadLetter['status'], (s: string) => string> = {
  pending: chalk.yellow,
  replayed: chalk.green,
  replay_failed: chalk.red,
  discarded: chalk.gray,
  missing: chalk.red,
  invalid: chalk.magenta,
}

/** A status the colour table does not know (a newer reader's) is shown in red rather than crashing. */
const colourOf = (status: string) => statusColour[status as DeadLetter['status']] ?? chalk.red

/** A replay's outcome (dlq/outcome.ts) with its error code, coloured: red when it failed again. */
function outcomeText(outcome: HistoryEntry['outcome'], error: HistoryEntry['error'], width = 40): string {
  if (!outcome) return '-'
  const text = error && outcome !== 'succeeded' ? `${field(outcome)} ${field(error.code, width)}` : field(outcome)
  if (outcome === 'failed' || outcome === 'dead_lettered') return chalk.red(text)
  return outcome === 'succeeded' ? chalk.green(text) : text
}

/** A message no worker received (the advisory reports 0 deliveries) is never shown as a worker's failure. */
const NEVER_DELIVERED = 'never delivered: the server gave it up before any worker received it'

function failureText(l: DeadLetter): string {
  if (l.never_delivered) return NEVER_DELIVERED
  if (!l.failure) return '-'
  return l.failure.message ? `${field(l.failure.code)}: ${field(l.failure.message)}` : field(l.failure.code)
}

/** A value from the bus for a cell or a line; `-` when absent. */
const cell = (value: unknown) => (value === undefined || value === null ? '-' : field(value))

/** Why a dead letter is missing or invalid, or that its replay was interrupted. */
function statusNote(l: DeadLetter): string {
  if (l.missing_reason) return ` (${l.missing_reason})`
  if (l.status === 'invalid') return ` (${l.problems.map((p) => p.code).join(', ')})`
  return l.replay_in_progress ? ' (replay interrupted)' : ''
}

/** A time as an age (`3m`) on a TTY, under a header that says so; RFC 3339 when piped. */
function ageCell(term: Terminal, time: string): string {
  const at = Date.parse(time)
  return term.stdoutTTY && !Number.isNaN(at) ? formatAge(Date.now() - at) : formatTime(term, time)
}

/** Sorting by an age: the youngest first, as the column reads (`--sort -age`: the oldest first). */
const byAge = (time: string) => -Date.parse(time)

/**
 * `dlq list`'s columns. At 80 columns: ref, age, reason, correlation (its first 10 characters, as many as
 * its header), failure and status; consumer, deliveries, type and tenant join them as the window allows
 * (each whole, and only while the failure keeps 40 columns), with `--wide`, and always when piped.
 */
export const DEAD_LETTER_LISTING: Listing<DeadLetter> = [
  {name: 'ref', fit: 'fixed', cell: (l) => field(l.ref)},
  {
    name: 'age',
    fit: 'fixed',
    cell: (l, term) => ageCell(term, l.dead_lettered_at),
    sortBy: (l) => byAge(l.dead_lettered_at),
  },
  {name: 'consumer', optional: true, cell: (l) => field(l.consumer)},
  {name: 'reason', fit: 'fixed', cell: (l) => field(l.reason)},
  {
    name: 'deliveries',
    fit: 'fixed',
    align: 'right',
    optional: true,
    cell: (l) => cell(l.deliveries),
    sortBy: (l) => (typeof l.deliveries === 'number' ? l.deliveries : undefined),
  },
  {name: 'type', optional: true, cell: (l) => cell(l.type)},
  {name: 'tenant', optional: true, cell: (l) => cell(l.tenant_id)},
  {name: 'correlation', fit: 'id', min: 11, cell: (l) => cell(l.correlation_id)},
  {name: 'failure', min: 40, cell: (l) => failureText(l)},
  {name: 'status', min: 9, cell: (l) => colourOf(l.status)(field(l.status + statusNote(l)))},
]

/** `dlq list`: one row per dead letter, or the group counts with `--group-by`. */
export async function renderDeadLetterList(term: Terminal, result: DlqListResult, groupBy?: string): Promise<void> {
  const shown = groupBy ? result.groups.reduce((n, g) => n + g.count, 0) : result.dead_letters.length
  const count = `${shown < result.total ? `${shown} of ` : ''}${result.total} dead letter(s)`
  if (groupBy) {
    await table(
      term,
      [
        {header: 'group', min: 12},
        {header: 'count', fit: 'fixed', align: 'right'},
        {header: groupBy, min: 12},
      ],
      result.groups.map((g) => [field(g.key), g.count, cell(g.value)]),
    )
    if (term.stdoutTTY) err(count)
    return
  }
  if (result.dead_letters.length === 0) {
    err('No dead letters match.')
    return
  }
  await renderListing(term, DEAD_LETTER_LISTING, result.dead_letters)
  if (term.stdoutTTY) err(count)
}

/** The replay plan: on stderr before the confirmation, or on stdout as the result of `--dry-run`. */
export function renderReplayPlan(
  term: Terminal,
  plan: {
    items: Array<PlannedReplay & {resume: boolean}>
    skipped: SkippedItem[]
  },
  options: {dryRun: boolean},
): void {
  const write = options.dryRun ? out : err
  const shown = options.dryRun ? plan.items : plan.items.slice(0, 20)
  if (plan.items.length)
    err(chalk.bold(`${options.dryRun ? 'Would replay' : 'Replay plan:'} ${plan.items.length} message(s)`))
  for (const i of shown) {
    const note = i.resume ? '\t(finishing an interrupted replay)' : ''
    write(`${field(i.ref)}\t-> ${field(i.subject)}\tNats-Msg-Id ${field(i.replay_id)}${note}`)
  }
  if (plan.items.length > shown.length) err(`  ... and ${plan.items.length - shown.length} more`)
  for (const s of plan.skipped) err(`${chalk.yellow('skip')} ${field(s.ref)}: ${field(s.reason)}`)
  if (options.dryRun) err('Dry run: nothing was sent.')
}

/**
 * How far a long batch (a replay of many dead letters) has got: `label [####....] done/total`, redrawn on
 * stderr, only on a TTY and never with --json (docs/operations.md). Not a task's own progress (that is
 * `percentBar` in render/tasks.ts).
 */
export function batchProgress(term: Terminal, label: string): {update(done: number, total: number): void; end(): void} {
  const output = currentOutput()
  const tty = output.stderrTTY && !term.json
  let last = 0
  return {
    update(done, total) {
      if (!tty || total < 20) return
      const now = Date.now()
      if (done !== total && now - last < 100) return
      last = now
      const width = 30
      const filled = Math.round((done / total) * width)
      output.writeErr(`\r${label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total}`)
    },
    end() {
      if (tty && last) output.writeErr('\n')
    },
  }
}

/** The outcome of replay or discard, for humans: one line per item on stdout, failures on stderr. */
export function renderActionResult(
  verb: string,
  done: Array<{ref: string; detail: string}>,
  skipped: SkippedItem[],
  failed: FailedItem[],
  notAttempted: Array<{ref: string}>,
  target: ChangeTarget,
): void {
  for (const d of done) out(`${field(verb)}\t${field(d.ref)}\t${field(d.detail)}`)
  for (const s of skipped) err(`${chalk.yellow('skipped')} ${field(s.ref)}: ${field(s.reason)}`)
  for (const f of failed) err(`${chalk.red('failed')} ${field(f.ref)}: ${field(f.error)}`)
  for (const n of notAttempted) err(`${chalk.red('not attempted')} ${field(n.ref)}`)
  const rest = notAttempted.length ? `, ${notAttempted.length} not attempted` : ''
  err(`${done.length} ${field(verb)}, ${skipped.length} skipped, ${failed.length} failed${rest} ${targetText(target)}`)
  if (failed.length || notAttempted.length) err('Run the same command again to finish the rest; nothing is sent twice.')
}

/** `dlq history`'s columns; the subject, new sequence and replay id only as the window allows. */
export const HISTORY_LISTING: Listing<HistoryEntry> = [
  {name: 'ref', fit: 'fixed', cell: (h) => field(h.ref)},
  {name: 'when', fit: 'fixed', cell: (h, term) => formatTime(term, h.at), sortBy: (h) => Date.parse(h.at)},
  {name: 'who', min: 8, cell: (h) => field(h.actor)},
  {name: 'what', fit: 'fixed', cell: (h) => field(h.action)},
  {name: 'why', min: 12, cell: (h) => cell(h.reason)},
  {name: 'outcome', fit: 'fixed', cell: (h) => outcomeText(h.outcome, h.error)},
  {name: 'subject', optional: true, cell: (h) => cell(h.to_subject)},
  {
    name: 'new_seq',
    fit: 'fixed',
    align: 'right',
    optional: true,
    cell: (h) => cell(h.new_seq),
    sortBy: (h) => (typeof h.new_seq === 'number' ? h.new_seq : undefined),
  },
  {name: 'replay_id', fit: 'id', optional: true, cell: (h) => cell(h.replay_id)},
]

/** `dlq history`: one row per ledger entry. */
export async function renderHistory(term: Terminal, result: DlqHistoryResult): Promise<void> {
  if (result.history.length === 0) {
    err('No operator actions recorded.')
    return
  }
  await renderListing(term, HISTORY_LISTING, result.history)
}

/** `dlq show`: the dead letter, its advisory, headers, envelope, failures, history and workflow. */
export async function renderDeadLetterShow(
  term: Terminal,
  result: DlqShowResult,
  workflow: WorkflowResult | undefined,
): Promise<void> {
  const l = result.dead_letter
  const section = (title: string) => out(`\n${chalk.bold(title)}`)
  out(
    `${chalk.bold(`Dead letter ${field(l.ref)}`)}  ${colourOf(l.status)(field(l.status))}${l.replay_in_progress ? ' (replay interrupted; run dlq replay again to finish it)' : ''}`,
  )
  const deliveries =
    typeof l.deliveries === 'number' ? ` after ${l.deliveries} deliver${l.deliveries === 1 ? 'y' : 'ies'}` : ''
  out(`  reason       ${field(l.reason)}${deliveries}, consumer ${field(l.consumer)}`)
  if (l.never_delivered) out(chalk.yellow(`  ${NEVER_DELIVERED} (not a worker failure)`))
  out(`  when         ${formatTime(term, l.dead_lettered_at)}`)
  const archived =
    l.original_source === 'archive' ? `  (from ${DLQ_ARCHIVE_STREAM}: ${field(l.stream)} no longer has it)` : ''
  out(
    `  subject      ${l.subject === null || l.subject === undefined ? '(original gone)' : field(l.subject)}${archived}`,
  )
  out(`  type         ${cell(l.type)}`)
  out(`  id           ${cell(l.id)}`)
  out(`  correlation  ${cell(l.correlation_id)}`)
  out(`  tenant       ${cell(l.tenant_id)}`)
  out(`  failure      ${failureText(l)}`)
  if (l.status === 'missing' || l.status === 'invalid' || l.missing_reason) {
    const why = l.problems.map((p) => p.message).join('; ') || 'the original message is gone (deleted or aged out)'
    out(
      chalk.red(
        `  ${l.status === 'invalid' ? 'Not a valid dead-letter advisory' : 'No original'}: ${field(why)}; it cannot be replayed.`,
      ),
    )
  }
  section('Advisory')
  out(result.advisory ? indent(prettyJson(result.advisory)) : '  (not readable)')
  section('Headers')
  const headers = Object.entries(result.headers)
  if (headers.length === 0) out('  (none)')
  for (const [k, values] of headers)
    for (const v of Array.isArray(values) ? values : [values]) out(`  ${field(k)}: ${field(v)}`)
  section('Envelope')
  out(
    result.envelope
      ? indent(prettyJson(result.envelope))
      : indent(
          result.raw === null || result.raw === undefined
            ? '(original gone)'
            : sanitize(safeText(result.raw, 200_000), 'block'),
        ),
  )
  section('Failure events')
  if (result.failure_events.length === 0) out('  (none found)')
  for (const e of result.failure_events) {
    const type = path(e.envelope, 'type')
    const code = path(e.envelope, 'data', 'error', 'code')
    const message = path(e.envelope, 'data', 'error', 'message')
    out(
      `  ${formatTime(term, e.time)}  ${field(e.stream)}:${field(e.seq)}  ${field(type ?? e.subject)}  ${code === undefined ? '' : field(code, 200)} ${message === undefined ? '' : field(message, 200)}`,
    )
  }
  section('History')
  if (result.history.length === 0) out('  (no operator action yet)')
  for (const h of result.history) {
    const sent = h.new_seq ? ` -> ${field(h.to_subject)} seq ${field(h.new_seq)}` : ''
    out(
      `  ${formatTime(term, h.at)}  ${field(h.actor)}  ${field(h.action)}${sent}${h.reason ? `  "${field(h.reason)}"` : ''}`,
    )
  }
  section('Replays')
  if (result.replays.length === 0) out('  (not replayed)')
  for (const r of result.replays) {
    out(
      `  ${formatTime(term, r.at)}  ${field(r.actor)}  seq ${field(r.seq)}  ${outcomeText(r.outcome, r.error, 200)}  ${field(r.replay_id)}`,
    )
  }
  section('Triage')
  const triage = result.triage
  if (!triage || (!triage.held && triage.notes.length === 0)) out('  (no hold, no notes)')
  if (triage?.held)
    out(
      `  ${chalk.yellow('held')} by ${field(triage.held.owner)} since ${formatTime(term, triage.held.at)}: ${field(triage.held.note)}`,
    )
  for (const n of triage?.notes ?? []) {
    out(`  ${formatTime(term, n.at)}  ${field(n.actor)}  ${field(n.kind)}${n.text ? `  "${field(n.text)}"` : ''}`)
  }
  section('Workflow')
  if (workflow) {
    const {renderWorkflowTree} = await import('./workflow.js')
    renderWorkflowTree(term, workflow)
  } else out(`  ${field(result.workflow.error ?? 'no correlation id to follow')}`)
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((line) => `  ${line}`)
    .join('\n')
}

/**
 * `dlq capture`: one line per dead letter on stdout (with --json one JSON object per line, the last
 * `{kind: "stopped", ...}` with the counts); its start, warnings and retries on stderr.
 */
export function renderCaptureEvent(term: Terminal, event: CaptureEvent | ({kind: 'stopped'} & CaptureSummary)): void {
  if (term.json) {
    if (event.kind === 'warning') warn(event.message)
    else jsonLine(event)
    return
  }
  switch (event.kind) {
    case 'started': {
      err(
        `Capturing dead letters of ${field(event.site)} into ${DLQ_ARCHIVE_STREAM} (instance ${field(event.instance)}); handled copies ${event.ttl ? `expire after ${field(event.ttl)}` : 'are kept'}.`,
      )
      if (event.ttl_unavailable) warn(`--handled-ttl has no effect: ${event.ttl_unavailable}`)
      return
    }
    case 'archived':
      return out(`archived\t${field(event.ref)}\t${event.state}\tarchive seq ${event.archive_seq}`)
    case 'already-archived':
      return out(`already archived\t${field(event.ref)}`)
    case 'gone':
      return out(`gone\t${field(event.ref)}\t${field(event.reason)}`)
    case 'expiring':
      return out(`expiring\t${field(event.ref)}\tarchive seq ${event.archive_seq}`)
    case 'kept':
      return out(`kept\t${field(event.ref)}\tarchive seq ${event.archive_seq}\t(its replay failed again: pending)`)
    case 'failed':
      return err(`${chalk.red('failed')} ${field(event.ref)}: ${field(event.error)} (offered again shortly)`)
    case 'warning':
      return warn(event.message)
    case 'stopped':
      return err(
        `Stopped: ${event.archived} archived, ${event.already_archived} already archived, ${event.gone} gone before capture, ${event.failed} failed, ${event.expiring} set to expire.`,
      )
  }
}

/** Above a replay or discard plan: how many dead letters it touches and their failure groups (stderr). */
export function renderPlanSelection(selection: PlanSelection, verb: string): void {
  if (selection.letters === 0 && selection.held.length === 0) return
  const groups = selection.groups.map((g) => `${field(g.key)} (${g.count})`).join(', ')
  err(`${verb} ${selection.letters} dead letter(s)${groups ? ` in ${groups}` : ''}`)
  if (selection.held.length)
    err(`${selection.held.length} held dead letter(s) left alone (dlq release to include them)`)
}

/** `dlq hold`, `dlq release`, `dlq note`: one line per dead letter changed, then what was skipped. */
export function renderTriageResult(result: DlqTriageResult, target: ChangeTarget): void {
  const verb = {hold: 'held', release: 'released', note: 'noted'}[result.action]
  renderActionResult(
    verb,
    result.changed.map((c) => ({ref: c.ref, detail: c.note ? `${c.actor}: ${c.note}` : c.actor})),
    result.skipped,
    result.failed,
    [],
    target,
  )
}
