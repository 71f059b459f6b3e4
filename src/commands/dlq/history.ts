import {Args} from '@oclif/core'

import {BaseCommand} from '../../cli/base-command.js'
import {listingFlags, listOrderFrom} from '../../cli/flags.js'
import {siteOfRefs} from '../../lib/dlq/ref.js'
import type {DlqHistoryResult} from '../../lib/dlq/model.js'
import {HISTORY_LISTING, renderHistory} from '../../lib/render/dlq.js'
import {orderList, sortFields} from '../../lib/render/listing.js'

export default class DlqHistory extends BaseCommand<typeof DlqHistory> {
  static override summary = 'Show what operators did to dead letters: who, when, what, why, and the new sequence.'
  static override description =
    "Reads the ledger (KV bucket dv_dlq_ledger: each dead letter's discards, 64 entries of history, and the journals of replay runs): every replay and discard, with actor, time, reason, replay id, target subject and the sequence of the copy sent, and each replay's outcome (pending, succeeded, failed or dead_lettered, with the error given). Without REF: every dead letter, in time order. --sort and --limit order and cut the result (--json too); on a terminal the table fits the window (--wide: every column whole); piped, every column, tab-separated, without a header row."
  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> DV_CMD:42 --json',
    '<%= config.bin %> <%= command.id %> --sort -when --limit 10',
  ]

  static override args = {
    ref: Args.string({description: 'Dead-letter reference: <stream>:<seq>.'}),
  }

  static override flags = {...listingFlags(sortFields(HISTORY_LISTING))}

  async run(): Promise<DlqHistoryResult> {
    const order = listOrderFrom(this.flags, sortFields(HISTORY_LISTING))
    const conn = await this.connectOne({impliedSite: siteOfRefs(this.args.ref ? [this.args.ref] : [])})
    const {readHistory} = await import('../../lib/dlq/history.js')
    const read = await readHistory(conn, {...(this.args.ref ? {ref: this.args.ref} : {})})
    const result: DlqHistoryResult = {...read, history: orderList(read.history, HISTORY_LISTING, order)}
    if (!this.jsonEnabled()) await renderHistory(this.term, result)
    return result
  }
}
