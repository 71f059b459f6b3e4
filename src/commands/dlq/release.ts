import {Args, Flags} from '@oclif/core'

import {BaseCommand} from '../../cli/base-command.js'
import {dlqTargets, groupFilterFlags, selectionFlags, statusFlag} from '../../cli/flags.js'
import {triageExitCode} from '../../cli/triage.js'
import {resolveActor} from '../../lib/dlq/actor.js'
import type {DlqTriageResult} from '../../lib/dlq/model.js'
import {siteOfRefs} from '../../lib/dlq/ref.js'
import {renderTriageResult} from '../../lib/render/dlq.js'

export default class DlqRelease extends BaseCommand<typeof DlqRelease> {
  static override summary = 'Release held dead letters, so that replay and discard act on them again.'
  static override description = `Lifts the hold of each selected dead letter (whoever holds it; the release and its optional note are kept in the dead letter's notes). Select by reference, or by --group KEY or the filters of dlq replay: then only the held ones among them are released. A named dead letter that is not held is refused (exit 6). Writes are compare-and-set, as for dlq hold.`
  static override examples = [
    '<%= config.bin %> <%= command.id %> DV_CMD:42',
    '<%= config.bin %> <%= command.id %> --group error:quota-exceeded --note "quota fixed upstream"',
  ]

  static override strict = false
  static override args = {
    ref: Args.string({description: 'Dead-letter reference(s) from dlq list: <stream>:<seq>.'}),
  }

  static override flags = {
    ...selectionFlags,
    ...groupFilterFlags,
    status: statusFlag,
    note: Flags.string({summary: 'Why they are released (optional; kept in the notes).'}),
  }

  async run(): Promise<DlqTriageResult> {
    const refs = this.argList
    const {checkedNote, triageTargets} = await import('../../lib/dlq/triage.js')
    const note = checkedNote(this.flags.note, {required: false})
    const targets = dlqTargets(refs, this.flags)
    const conn = await this.connectOne({impliedSite: siteOfRefs(refs)})
    const {result, notFound} = await triageTargets(conn, targets, {
      action: 'release',
      actor: await resolveActor(),
      note,
    })
    if (!this.jsonEnabled()) renderTriageResult(result, {site: conn.site.name, url: conn.url})
    return this.exitWith(result, triageExitCode(result, notFound, refs.length > 0))
  }
}
