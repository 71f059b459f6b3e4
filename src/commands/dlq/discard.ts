import {Args, Flags} from '@oclif/core'

import {BaseCommand} from '../../cli/base-command.js'
import {dlqTargets, groupFilterFlags, selectionFlags, statusFlag} from '../../cli/flags.js'
import {siteOfRefs} from '../../lib/dlq/ref.js'
import {usageError} from '../../lib/errors.js'
import {ExitCode} from '../../lib/exit-codes.js'
import {resolveActor} from '../../lib/dlq/actor.js'
import type {DlqDiscardResult} from '../../lib/dlq/model.js'
import {renderActionResult, renderPlanSelection} from '../../lib/render/dlq.js'
import {confirmOrRefuse} from '../../lib/render/prompt.js'
import {err} from '../../lib/render/terminal.js'

export default class DlqDiscard extends BaseCommand<typeof DlqDiscard> {
  static override summary = 'Mark dead letters as handled without replaying them; the reason is recorded.'
  static override description = `Writes a "discarded" entry (who, when, why) to the ledger of each selected dead letter; nothing is sent and the original stays in its stream. Select by reference, or by filter: --all, a failure group (--group KEY, from dlq list --group-by) or any filter (--error, --failure-reason, --service, --correlation, --since, --until and the filters of dlq list), which selects like --all (default: pending ones). Held dead letters (dlq hold) are skipped, with who holds them and why. The plan says how many, in which failure groups. A confirmation is asked; --yes answers it; without a terminal and without --yes nothing is changed (exit 6). Dead letters already replayed or discarded are skipped unless --force.`
  static override examples = [
    '<%= config.bin %> <%= command.id %> DV_CMD:42 --reason "duplicate of DV_CMD:41" --yes',
    '<%= config.bin %> <%= command.id %> --all --type "maskin.server.test.*" --reason "test traffic" --dry-run',
  ]

  static override strict = false
  static override args = {
    ref: Args.string({description: 'Dead-letter reference(s) from dlq list: <stream>:<seq>.'}),
  }

  static override flags = {
    all: Flags.boolean({summary: 'Discard every dead letter the filters select (default: pending ones).'}),
    ...selectionFlags,
    ...groupFilterFlags,
    status: statusFlag,
    reason: Flags.string({
      summary:
        'Why they are discarded (required; recorded in the ledger). To select by failure text: --failure-reason.',
      required: true,
    }),
    yes: Flags.boolean({char: 'y', summary: 'Answer the confirmation: discard without asking.'}),
    'dry-run': Flags.boolean({summary: 'Show what would be discarded; change nothing.'}),
    force: Flags.boolean({summary: 'Discard even dead letters already replayed or discarded.'}),
  }

  async run(): Promise<DlqDiscardResult> {
    const refs = this.argList
    const flags = this.flags
    const targets = dlqTargets(refs, flags)
    if (!flags.reason.trim()) throw usageError('--reason must say why.', 'reason-required')
    const conn = await this.connectOne({impliedSite: siteOfRefs(refs)})
    const {planDiscard, runDiscard} = await import('../../lib/dlq/discard.js')
    const {selectorFor} = await import('../../lib/dlq/select.js')
    const selector = await selectorFor(conn, targets.filter)
    const plan = await planDiscard(conn, {
      ...('refs' in targets ? {refs: targets.refs} : {all: targets.all}),
      force: flags.force,
      screen: selector.screen,
    })
    const selection = selector.summary(plan.letters)
    const preview: DlqDiscardResult = {
      dry_run: true,
      discarded: plan.letters.map((l) => ({ref: l.ref, reason: flags.reason, at: '', actor: ''})),
      skipped: plan.skipped,
      failed: [],
      selection,
    }
    if (!this.jsonEnabled()) {
      renderPlanSelection(selection, flags['dry-run'] ? 'Would discard' : 'Discarding')
      for (const l of plan.letters) err(`discard ${l.ref} (${l.type ?? 'unknown type'}, ${l.status})`)
      for (const s of plan.skipped) err(`skip ${s.ref}: ${s.reason}`)
    }
    if (plan.letters.length === 0) {
      if (!refs.length) return preview
      const code = plan.notFound.length === plan.skipped.length ? ExitCode.notFound : ExitCode.refused
      return this.exitWith(preview, code)
    }
    if (flags['dry-run']) return preview
    await confirmOrRefuse(this.term, `Discard ${plan.letters.length} dead letter(s)`, {
      yes: flags.yes,
      target: {site: conn.site.name, url: conn.url},
    })
    const result = {...(await runDiscard(conn, plan, {actor: await resolveActor(), reason: flags.reason})), selection}
    if (!this.jsonEnabled()) {
      renderActionResult(
        'discarded',
        result.discarded.map((d) => ({ref: d.ref, detail: d.reason})),
        result.skipped,
        result.failed,
        [],
        {site: conn.site.name, url: conn.url},
      )
    }
    return this.exitWith(result, result.failed.length ? ExitCode.partial : ExitCode.ok)
  }
}
