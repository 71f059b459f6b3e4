import {Args, Flags} from '@oclif/core'

import {BaseCommand} from '../../cli/base-command.js'
import {constantHelp, dlqTargets, durationFlag, groupFilterFlags, selectionFlags, statusFlag} from '../../cli/flags.js'
import {siteOfRefs} from '../../lib/dlq/ref.js'
import {usageError} from '../../lib/errors.js'
import {ExitCode} from '../../lib/exit-codes.js'
import {resolveActor} from '../../lib/dlq/actor.js'
import type {CanaryCopy} from '../../lib/dlq/canary.js'
import type {DlqReplayResult} from '../../lib/dlq/model.js'
import type {ReplayPlan} from '../../lib/dlq/replay.js'
import {batchProgress, renderActionResult, renderPlanSelection, renderReplayPlan} from '../../lib/render/dlq.js'
import {editText} from '../../lib/render/editor.js'
import {confirmOrRefuse} from '../../lib/render/prompt.js'
import {err} from '../../lib/render/terminal.js'
import {field} from '../../lib/render/text.js'

export default class DlqReplay extends BaseCommand<typeof DlqReplay> {
  static override summary = 'Replay dead letters on purpose: send a byte-identical copy of each original command.'
  static override description = `Select dead letters by reference, or by filter: --all, a failure group (--group KEY, a key from dlq list --group-by), or any filter (--error CODE, --failure-reason TEXT, --service, --correlation, --since, --until and the filters of dlq list), which selects like --all (default: pending ones). Held dead letters (dlq hold) are skipped, with who holds them and why; release them first. The plan says how many dead letters, in which failure groups, would be replayed. The plan (what is sent where) is shown first, then a confirmation is asked; --yes answers it, and without a terminal and without --yes nothing is sent (exit 6). --dry-run only shows the plan. An original that DV_CMD no longer has is sent from the dead-letter archive (see dlq capture), still byte-identical.

Each copy has the original's data byte for byte, its headers, plus Dv-Replay-Of (<stream>:<seq>), Dv-Replay-Id and Dv-Replayed-By, and Nats-Msg-Id = the replay id. It goes to the original subject, or to --to SUBJECT; either must be a command subject of the taxonomy (dv.<service>.cmd.<action>), never a server namespace ($JS., $KV., $SYS., $O., _INBOX.). The ledger (KV bucket dv_dlq_ledger) records the replay before anything is sent and again, with the new sequence, after the server acknowledged it: once per chunk of up to 1,000 dead letters, in a journal naming each.

Interrupted (Ctrl-C, crash, lost connection)? Run the same command again: the replay ids are reused, so JetStream drops a copy it already stored within the stream's duplicate window (2m on DV_CMD); after that window dvctl searches the target subject for the replay id before sending, so a re-run still sends no second copy.

A dead letter already replayed is refused unless --force (which sends a new copy with a new replay id); so is one whose last replay failed with the same error code as the dead letter's own (replay_failed in dlq list; the refusal says how it failed). One whose replay failed with another error may be replayed again without --force. Only a dead letter whose original is provably the message that failed is replayed: one whose original is gone, whose stream was recreated since, whose message lies outside its consumer's filter, or that points outside the layout's command streams is missing (with the reason), and an advisory that fails its checks is invalid; neither is ever sent.

--edit opens the envelope in $VISUAL/$EDITOR and sends the edited one as a new message: new id, causation_id = the original's id, actor = you; it must pass the contract checks.

A run that sends anything is a job (dlq jobs: its state, counts and heartbeat in the KV bucket dv_dlq_runtime; --json gives its id as job.id). dlq jobs cancel ID, from any terminal, stops it after the messages in flight: it exits 3 with what it sent, and the same command again sends the rest, each once.

--canary N sends the first N dead letters of the plan, then waits up to --canary-wait (30s) for their outcomes, as dlq show reports them: a copy has failed again when its task failed (a dv.task.evt.failed event caused by the copy) or the copy was dead-lettered again. Only if none failed (and all N were sent) are the rest sent; otherwise nothing more is sent, the failures are named, and the command exits 8. The wait ends early once each of the N has an outcome. --halt-after K follows the outcomes of the copies while the replay runs and stops it (after the messages in flight, exit 8, the failures named; JSON: halt) once K of them have failed again.

Partial failure exits 68 and lists what was replayed, what failed and what was not attempted (JSON: not_attempted). A replay that loses its site stops at once; run it again to finish the rest, each exactly once.`
  static override examples = [
    '<%= config.bin %> <%= command.id %> DV_CMD:42 --dry-run',
    '<%= config.bin %> <%= command.id %> DV_CMD:42 --yes --reason "quota raised for tenant acme"',
    '<%= config.bin %> <%= command.id %> --all --consumer maskin --since 1h --rate 50/s --yes',
    '<%= config.bin %> <%= command.id %> --error quota-exceeded --dry-run',
    '<%= config.bin %> <%= command.id %> --group error:quota-exceeded --yes --reason "quota raised"',
    '<%= config.bin %> <%= command.id %> DV_CMD:42 --to dv.maskin.cmd.provision_v2 --yes',
    '<%= config.bin %> <%= command.id %> DV_CMD:42 --edit',
    '<%= config.bin %> <%= command.id %> --error quota-exceeded --canary 5 --canary-wait 1m --yes',
  ]

  static override strict = false
  static override args = {
    ref: Args.string({description: 'Dead-letter reference(s) from dlq list: <stream>:<seq> or <site>/<stream>:<seq>.'}),
  }

  static override flags = {
    all: Flags.boolean({summary: 'Replay every dead letter the filters select (default: pending ones).'}),
    ...selectionFlags,
    ...groupFilterFlags,
    status: statusFlag,
    yes: Flags.boolean({char: 'y', summary: 'Answer the confirmation: send without asking.'}),
    'dry-run': Flags.boolean({summary: 'Show what would be sent where; send nothing.'}),
    rate: Flags.string({summary: 'At most this many messages per second (e.g. 50/s).', helpValue: 'N/s'}),
    to: Flags.string({
      summary: 'Send to this command subject instead of the original one (dv.<service>.cmd.<action>).',
    }),
    edit: Flags.boolean({summary: 'Edit the envelope in $EDITOR first and send it as a new message (one ref).'}),
    force: Flags.boolean({summary: 'Replay even dead letters already replayed or discarded (a new copy).'}),
    reason: Flags.string({summary: 'Why: recorded in the ledger with the replay.'}),
    canary: Flags.integer({
      summary: 'Send this many first and wait for their outcomes; go on only if none failed again (else exit 8).',
      min: 1,
      helpValue: 'N',
    }),
    'halt-after': Flags.integer({
      summary:
        'Stop the replay (exit 8) once this many of its copies have failed again (task failed or dead-lettered).',
      min: 1,
      helpValue: 'K',
    }),
    'canary-wait': durationFlag({
      summary: "How long --canary waits for its copies' outcomes before it sends the rest.",
      default: 30_000,
      defaultHelp: constantHelp('30s'),
    }),
  }

  async run(): Promise<DlqReplayResult> {
    const refs = this.argList
    const flags = this.flags
    const targets = dlqTargets(refs, flags)
    if (flags.edit && refs.length !== 1) throw usageError('--edit works on exactly one reference.')
    const toSubject = flags.to ? await checkedSubject(flags.to) : undefined
    const rate = flags.rate ? parseRate(flags.rate) : undefined

    const conn = await this.connectOne({impliedSite: siteOfRefs(refs)})
    const {newRunId, planJson, planReplay, runReplay} = await import('../../lib/dlq/replay.js')
    const {selectorFor} = await import('../../lib/dlq/select.js')
    // Filters narrow the selection; held dead letters are skipped with who holds them and why.
    const selector = await selectorFor(conn, targets.filter)
    const plan = await planReplay(conn, {
      ...('refs' in targets ? {refs: targets.refs} : {all: targets.all}),
      force: flags.force,
      ...(toSubject ? {toSubject} : {}),
      // Sent at once, without a confirmation in between: the originals read for the plan are sent as read.
      keepOriginals: flags.yes && !flags.edit,
      screen: selector.screen,
      copyIds: Boolean(flags.canary || flags['halt-after']),
    })
    const selection = selector.summary(plan.items.map((i) => i.letter))
    // The result when nothing is sent: the plan of a --dry-run, or a selection with nothing left to replay.
    const unsent: DlqReplayResult = {
      dry_run: Boolean(flags['dry-run']),
      plan: planJson(plan),
      replayed: [],
      skipped: plan.skipped,
      failed: [],
      not_attempted: [],
      selection,
    }
    if (!this.jsonEnabled()) {
      renderPlanSelection(selection, flags['dry-run'] ? 'Would replay' : 'Replaying')
      renderReplayPlan(this.term, planView(plan), {dryRun: flags['dry-run']})
    }
    if (plan.items.length === 0) return this.nothingToDo(unsent, plan, refs.length > 0)
    if (flags['dry-run']) return unsent

    const actor = await resolveActor()
    let edited: {data: Uint8Array; id: string} | undefined
    if (flags.edit) edited = await this.edit(conn, plan, actor)
    await confirmOrRefuse(this.term, `Replay ${plan.items.length} dead letter(s)`, {
      yes: flags.yes,
      target: {site: conn.site.name, url: conn.url},
    })

    const bar = batchProgress(this.term, 'replaying')
    // The run is a job (dlq jobs): its state, counts and heartbeat in KV, cancellable from another process.
    const {JobTracker} = await import('../../lib/dlq/jobs.js')
    const job = await JobTracker.start(conn, {
      id: newRunId(),
      total: plan.items.length,
      actor,
      reason: flags.reason ?? null,
    })
    const {HaltWatch} = await import('../../lib/dlq/canary.js')
    const halt = flags['halt-after'] ? new HaltWatch(conn, flags['halt-after']) : undefined
    halt?.start()
    let result: DlqReplayResult | undefined
    try {
      result = {
        ...(await runReplay(conn, plan, {
          actor,
          reason: flags.reason ?? null,
          run: job.id,
          ...(rate ? {ratePerSecond: rate} : {}),
          ...(edited ? {edited} : {}),
          onProgress: (done, total, failed) => {
            bar.update(done, total)
            job.progress(done - failed, failed)
          },
          signal: AbortSignal.any([this.signal, job.cancelled, ...(halt ? [halt.halt.signal] : [])]),
          ...(halt ? {onPublished: (_item, _seq, copy) => halt.sent(copy)} : {}),
          ...(flags.canary ? {canary: await this.canary(conn, flags.canary, flags['canary-wait'])} : {}),
        })),
        selection,
      }
    } finally {
      bar.end()
      await halt?.stop()
      await job.finish({
        done: result?.replayed.length ?? 0,
        failed: result?.failed.length ?? 0,
        ok: result !== undefined && result.failed.length === 0 && result.not_attempted.length === 0,
        interrupted: this.interrupted,
      })
    }
    const halted = halt?.halt.signal.aborted === true && !this.interrupted
    if (halt) result.halt = {after: flags['halt-after']!, halted, failed: halt.failures}
    const cancelled = job.cancelled.aborted && !this.interrupted && !halted
    result.job = {id: job.id, state: job.state}
    if (!this.jsonEnabled()) {
      renderActionResult(
        'replayed',
        result.replayed.map((r) => ({
          ref: r.ref,
          detail: `${r.subject} seq ${r.new_seq}${r.duplicate ? ' (already stored)' : ''}`,
        })),
        result.skipped,
        result.failed,
        result.not_attempted,
        {site: conn.site.name, url: conn.url},
      )
    }
    if (cancelled) {
      if (!this.jsonEnabled()) {
        err(
          `Cancelled (dlq jobs cancel ${job.id}): ${result.replayed.length} sent; run the same command again to send the rest.`,
        )
      }
      return this.exitWith(result, ExitCode.cancelled)
    }
    if (halted) {
      if (!this.jsonEnabled()) {
        err(
          `Halted: ${halt!.failures.length} replayed copies failed again (--halt-after ${flags['halt-after']}); nothing more was sent.`,
        )
        for (const f of halt!.failures) err(`  ${field(f.ref)}: ${field(f.error)}`)
      }
      return this.exitWith(result, ExitCode.workFailed)
    }
    if (result.canary && result.canary.failed.length > 0) {
      if (!this.jsonEnabled()) {
        err(
          `Canary failed: ${result.canary.failed.length} of ${result.canary.sent} sent failed again; nothing else was sent.`,
        )
        for (const f of result.canary.failed) err(`  ${field(f.ref)}: ${field(f.error)}`)
      }
      return this.exitWith(result, ExitCode.workFailed)
    }
    if (this.interrupted) {
      // The result says what was sent and what was not; the summary above already says how to finish.
      if (!this.jsonEnabled()) err('Interrupted.')
      return this.exitWith(result, ExitCode.interrupted)
    }
    const partial = result.failed.length > 0 || result.not_attempted.length > 0
    return this.exitWith(result, partial ? ExitCode.partial : ExitCode.ok)
  }

  /** Nothing to send: fine for a filter that matched nothing, refused (6) or not found (5) for named refs. */
  private nothingToDo(result: DlqReplayResult, plan: ReplayPlan, named: boolean): DlqReplayResult {
    if (!named) {
      if (!this.jsonEnabled() && plan.skipped.length === 0) err('No dead letters match.')
      return result
    }
    const allMissing = plan.notFound.length === plan.skipped.length
    // The plan above said why each one is skipped; this says only what it adds up to.
    if (!this.jsonEnabled()) err('Error: Nothing to replay.')
    return this.exitWith(result, allMissing ? ExitCode.notFound : ExitCode.refused)
  }

  /** `--canary N`: the outcome check run after the first N copies (dlq/canary.ts, with outcome.ts's join). */
  private async canary(
    conn: Awaited<ReturnType<BaseCommand<typeof DlqReplay>['connectOne']>>,
    count: number,
    waitMs: number,
  ) {
    const {canaryFailures} = await import('../../lib/dlq/canary.js')
    if (!this.jsonEnabled())
      err(`Canary: sending ${count} first, then waiting up to ${Math.round(waitMs / 1000)}s for their outcomes.`)
    return {
      count,
      check: (copies: CanaryCopy[]) => canaryFailures(conn, copies, {waitMs, signal: this.signal}),
    }
  }

  private async edit(
    conn: Awaited<ReturnType<BaseCommand<typeof DlqReplay>['connectOne']>>,
    plan: ReplayPlan,
    actor: string,
  ) {
    const item = plan.items[0]
    const [{editableText, prepareEdited}, {readOriginalData}] = await Promise.all([
      import('../../lib/dlq/edit.js'),
      import('../../lib/dlq/replay.js'),
    ])
    const original = await readOriginalData(conn, item)
    if (!original) throw usageError(`${item.letter.ref}: the original message is gone; there is nothing to edit.`)
    const text = await editText(editableText(original), `${item.letter.stream}-${item.letter.seq}.json`, this.env)
    const edited = prepareEdited(text, item.letter, {actor, subject: item.subject})
    if (!edited.ok) {
      throw usageError(
        `The edited envelope breaks the contract: ${edited.problems.map((p) => `${p.path}: ${p.message}`).join('; ')}`,
        'invalid-envelope',
        'Run the command again and fix the envelope; nothing was sent.',
      )
    }
    return {data: edited.data, id: edited.id}
  }
}

function planView(plan: ReplayPlan) {
  return {
    items: plan.items.map((i) => ({
      ref: i.letter.ref,
      subject: i.subject,
      replay_id: i.replay_id,
      resume: Boolean(i.resume),
    })),
    skipped: plan.skipped,
  }
}

/** `--to` must be a command subject of the taxonomy (docs/contract.md): a replay only sends commands. */
async function checkedSubject(subject: string): Promise<string> {
  const {replayTargetProblem} = await import('../../lib/dlq/provenance.js')
  const problem = replayTargetProblem(subject)
  if (problem) {
    throw usageError(
      `--to ${subject} is not a subject of the taxonomy that a replay sends to (a command subject): ${problem}`,
      'invalid-subject',
      'Use a concrete subject such as dv.maskin.cmd.provision (dvctl contract subject SUBJECT explains).',
    )
  }
  return subject
}

/** `50/s` or `50`: messages per second. */
function parseRate(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(?:\/\s*s)?\s*$/.exec(text)
  const n = m ? Number(m[1]) : NaN
  if (!Number.isFinite(n) || n <= 0)
    throw usageError(`Invalid --rate "${text}"`, 'bad-rate', 'Use messages per second, e.g. --rate 50/s.')
  return n
}
