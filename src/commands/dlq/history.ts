import {Args} from '@oclif/core'

import {BaseCommand} from '../../cli/base-command.js'
import {siteOfRefs} from '../../lib/dlq/ref.js'
import {readHistory} from '../../lib/dlq/history.js'
import type {DlqHistoryResult} from '../../lib/dlq/model.js'
import {renderHistory} from '../../lib/render/dlq.js'

export default class DlqHistory extends BaseCommand<typeof DlqHistory> {
  static override summary = 'Show what operators did to dead letters: who, when, what, why, and the new sequence.'
  static override description =
    'Reads the ledger (KV bucket dv_dlq_ledger, 64 entries of history per dead letter): every replay and discard, with actor, time, reason, replay id, target subject and the sequence of the copy sent. Without REF: every dead letter, in time order.'
  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> DV_CMD:42 --json',
  ]

  static override args = {
    ref: Args.string({description: 'Dead-letter reference: <stream>:<seq>.'}),
  }

  async run(): Promise<DlqHistoryResult> {
    const conn = await this.connectOne({impliedSite: siteOfRefs(this.args.ref ? [this.args.ref] : [])})
    const result = await readHistory(conn, {...(this.args.ref ? {ref: this.args.ref} : {})})
    if (!this.jsonEnabled()) await renderHistory(this.term, result)
    return result
  }
}
