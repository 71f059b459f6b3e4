import {Args, Flags} from '@oclif/core'

import {BaseCommand} from '../../cli/base-command.js'
import {triageExitCode} from '../../cli/triage.js'
import {resolveActor} from '../../lib/dlq/actor.js'
import type {DlqTriageResult} from '../../lib/dlq/model.js'
import {siteOfRefs} from '../../lib/dlq/ref.js'
import {renderTriageResult} from '../../lib/render/dlq.js'

export default class DlqNote extends BaseCommand<typeof DlqNote> {
  static override summary = 'Add a note to a dead letter (shown by dlq show).'
  static override description = `Appends your note (with you as its author and the time) to the dead letter's notes in the KV bucket dv_dlq_triage; dlq show lists them (JSON: triage.notes). The last 100 notes are kept. The write is a compare-and-set on the key's revision: notes written by two operators at once are both kept.`
  static override examples = ['<%= config.bin %> <%= command.id %> DV_CMD:42 --note "tenant acme asked us to wait"']

  static override args = {
    ref: Args.string({description: 'Dead-letter reference from dlq list: <stream>:<seq>.', required: true}),
  }

  static override flags = {
    note: Flags.string({summary: 'The note (at most 2000 characters).', required: true}),
  }

  async run(): Promise<DlqTriageResult> {
    const {checkedNote, triageTargets} = await import('../../lib/dlq/triage.js')
    const note = checkedNote(this.flags.note, {required: true})
    const conn = await this.connectOne({impliedSite: siteOfRefs([this.args.ref])})
    const {result, notFound} = await triageTargets(
      conn,
      {refs: [this.args.ref], filter: {}},
      {action: 'note', actor: await resolveActor(), note},
    )
    if (!this.jsonEnabled()) renderTriageResult(result, {site: conn.site.name, url: conn.url})
    return this.exitWith(result, triageExitCode(result, notFound, true))
  }
}
