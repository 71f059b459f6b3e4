import type {SiteConnection} from '../nats/connection.js'
import {compareText} from '../order.js'
import {Ledger} from './ledger.js'
import type {DlqHistoryResult, HistoryEntry} from './model.js'
import {OriginalReader, parseEnvelope} from './original.js'
import {withOutcomes} from './outcome.js'
import {formatRef, ledgerKey, parseRef} from './ref.js'

/** Copies read at once to learn the envelope id they carry. */
const COPY_WINDOW = 64

/**
 * The ledger's audit trail (docs/operations.md, dead letters): who did what to which dead letter, when, why, and what was
 * sent (replay id, new sequence, subject), and what followed each replay (its outcome, dlq/outcome.ts).
 * One dead letter, or all of them in time order.
 */
export async function readHistory(conn: SiteConnection, options: {ref?: string}): Promise<DlqHistoryResult> {
  const ledger = await Ledger.open(conn, {create: false})
  if (!ledger) return {history: []}
  let history: HistoryEntry[]
  if (options.ref) {
    const ref = parseRef(options.ref)
    history = await ledger.history(ledgerKey(ref), formatRef(ref))
  } else {
    const all = await ledger.allHistory()
    history = all.sort((a, b) => compareText(a.at, b.at) || a.revision - b.revision)
  }
  const ids = await copyIds(conn, history)
  await withOutcomes(conn, history, (e) => ids.get(`${e.to_subject}\u0000${e.new_seq}`) ?? null)
  return {history}
}

/**
 * The envelope id each replayed copy carries (a byte-identical copy has its original's), read from the
 * copies themselves in batches; an edited copy's id is in its entry. A copy no longer stored has none.
 */
async function copyIds(conn: SiteConnection, history: HistoryEntry[]): Promise<Map<string, string>> {
  const ids = new Map<string, string>()
  const wanted = new Map<string, number[]>()
  for (const e of history) {
    if (e.action !== 'replayed' || typeof e.new_seq !== 'number' || !e.to_subject) continue
    if (e.new_id) ids.set(`${e.to_subject}\u0000${e.new_seq}`, e.new_id)
    else wanted.set(e.to_subject, [...(wanted.get(e.to_subject) ?? []), e.new_seq])
  }
  if (wanted.size === 0) return ids
  const jsm = await conn.jsm()
  const reader = new OriginalReader(conn)
  for (const [subject, seqs] of wanted) {
    const stream = await jsm.streams.find(subject).catch(() => undefined)
    if (!stream) continue
    await reader.each(stream, seqs, COPY_WINDOW, (seq, copy) => {
      const id = copy && copy.subject === subject ? parseEnvelope(copy.data)?.id : undefined
      if (typeof id === 'string') ids.set(`${subject}\u0000${seq}`, id)
    })
  }
  return ids
}
