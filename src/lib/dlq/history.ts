import type {SiteConnection} from '../nats/connection.js'
import {Ledger} from './ledger.js'
import type {DlqHistoryResult} from './model.js'
import {formatRef, ledgerKey, parseRef} from './ref.js'

/**
 * The ledger's audit trail (docs/operations.md, dead letters): who did what to which dead letter, when, why, and what was
 * sent (replay id, new sequence, subject). One dead letter, or all of them in time order.
 */
export async function readHistory(conn: SiteConnection, options: {ref?: string}): Promise<DlqHistoryResult> {
  const ledger = await Ledger.open(conn, {create: false})
  if (!ledger) return {history: []}
  if (options.ref) {
    const ref = parseRef(options.ref)
    return {history: await ledger.history(ledgerKey(ref), formatRef(ref))}
  }
  const all = await ledger.allHistory()
  return {history: all.sort((a, b) => a.at.localeCompare(b.at) || a.revision - b.revision)}
}
