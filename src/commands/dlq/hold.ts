import {Args, Flags} from '@oclif/core'

import {BaseCommand} from '../../cli/base-command.js'
import {dlqTargets, groupFilterFlags, selectionFlags, statusFlag} from '../../cli/flags.js'
import {triageExitCode} from '../../cli/triage.js'
import {resolveActor} from '../../lib/dlq/actor.js'
import type {DlqTriageResult} from '../../lib/dlq/model.js'
import {siteOfRefs} from '../../lib/dlq/ref.js'
import {renderTriageResult} from '../../lib/render/dlq.js'

export default class DlqHold extends BaseCommand<typeof DlqHold> {
  static override summary =
    'Hold dead letters (or a failure group) with a note: replay --all and discard --all leave them alone.'
  static override description = `Marks each selected dead letter as held, with your note and you (the actor) as its owner, in the KV bucket dv_dlq_triage. dlq replay and dlq discard skip held dead letters, whether selected by --all, a group, a filter or by reference, and their plan says who holds each and why; dlq release lifts the hold. Nothing is sent and the ledger is not touched.

Select by reference, or by a failure group (--group KEY, a key from dlq list --group-by) or the filters of dlq replay (default: pending ones). Holding a dead letter you already hold replaces your note; one held by another operator is refused (exit 6 for named references): release it first. Every write is a compare-and-set on the key's revision, so two operators acting at once never lose each other's update: the later one re-reads and applies its change to what is there, or refuses when the other's change matters (a hold by someone else).`
  static override examples = [
    '<%= config.bin %> <%= command.id %> DV_CMD:42 --note "waiting for the quota fix (JIRA-123)"',
    '<%= config.bin %> <%= command.id %> --group error:quota-exceeded --note "no point retrying until upstream is fixed"',
  ]

  static override strict = false
  static override args = {
    ref: Args.string({description: 'Dead-letter reference(s) from dlq list: <stream>:<seq>.'}),
  }

  static override flags = {
    ...selectionFlags,
    ...groupFilterFlags,
    status: statusFlag,
    note: Flags.string({summary: 'Why they are held (shown in replay and discard plans).', required: true}),
  }

  async run(): Promise<DlqTriageResult> {
    const refs = this.argList
    const {checkedNote, triageTargets} = await import('../../lib/dlq/triage.js')
    const note = checkedNote(this.flags.note, {required: true})
    const targets = dlqTargets(refs, this.flags)
    const conn = await this.connectOne({impliedSite: siteOfRefs(refs)})
    const {result, notFound} = await triageTargets(conn, targets, {action: 'hold', actor: await resolveActor(), note})
    if (!this.jsonEnabled()) renderTriageResult(result, {site: conn.site.name, url: conn.url})
    return this.exitWith(result, triageExitCode(result, notFound, refs.length > 0))
  }
}
