import {describeNatsError} from '../nats/errors.js'
import type {SiteConnection} from '../nats/connection.js'
import {Ledger, emptyLedgerState} from './ledger.js'
import type {DeadLetter, DlqDiscardResult, SkippedItem} from './model.js'
import {mapPool} from './pool.js'
import {formatRef, localRef} from './ref.js'
import {readDeadLetters, type DeadLetterSelection} from './read.js'
import type {Screen} from './select.js'

export interface DiscardPlan {
  letters: DeadLetter[]
  skipped: SkippedItem[]
  notFound: string[]
}

/** Which dead letters a discard marks as handled, and which it skips (already replayed or discarded). */
export async function planDiscard(
  conn: SiteConnection,
  options: {refs?: string[]; all?: DeadLetterSelection; force: boolean; screen?: Screen},
): Promise<DiscardPlan> {
  const refs = options.refs?.map((text) => formatRef(localRef(conn.site.name, text)))
  const handle = await Ledger.open(conn, {create: false})
  const ledger = handle ? await handle.load() : emptyLedgerState()
  const letters = await readDeadLetters(conn, {
    ...(options.all ?? {}),
    status: refs ? 'all' : (options.all?.status ?? 'pending'),
    ...(refs ? {refs: new Set(refs)} : {}),
    qualified: false,
    ledger,
  })
  const plan: DiscardPlan = {letters: [], skipped: [], notFound: []}
  if (refs) {
    const found = new Set(letters.map((l) => l.ref))
    plan.notFound = refs.filter((r) => !found.has(r))
  }
  for (const l of letters) {
    const last = l.last_action
    const screened = options.screen?.(l)
    if (screened === 'drop') continue
    if (screened !== undefined) {
      plan.skipped.push({ref: l.ref, reason: screened})
    } else if (l.status === 'invalid') {
      plan.skipped.push({ref: l.ref, reason: 'not a valid dead-letter advisory: there is no dead letter to discard'})
    } else if (!options.force && (last?.action === 'replayed' || last?.action === 'discarded')) {
      plan.skipped.push({
        ref: l.ref,
        reason: `already ${last.action} by ${last.actor} at ${last.at}; use --force to discard anyway`,
      })
    } else if (!options.force && l.replay_in_progress) {
      plan.skipped.push({
        ref: l.ref,
        reason: 'a replay of it was interrupted; finish it with dlq replay, or use --force',
      })
    } else plan.letters.push(l)
  }
  for (const ref of plan.notFound) plan.skipped.push({ref, reason: 'no such dead letter (no advisory in DV_DLQ)'})
  return plan
}

/** Marks dead letters as handled in the ledger (docs/operations.md, dead letters): who, when, why. Nothing is sent. */
export async function runDiscard(
  conn: SiteConnection,
  plan: DiscardPlan,
  options: {actor: string; reason: string},
): Promise<DlqDiscardResult> {
  const result: DlqDiscardResult = {dry_run: false, discarded: [], skipped: [...plan.skipped], failed: []}
  if (plan.letters.length === 0) return result
  const ledger = (await Ledger.open(conn, {create: true}))!
  await mapPool(plan.letters, 128, async (l) => {
    const at = new Date().toISOString()
    try {
      await ledger.record(l, {
        action: 'discarded',
        actor: options.actor,
        at,
        reason: options.reason,
        replay_id: null,
        // Carried over so that a later --force replay starts a new generation (a new Nats-Msg-Id).
        generation: l.last_action?.generation ?? null,
        new_seq: null,
        to_subject: null,
      })
      result.discarded.push({ref: l.ref, reason: options.reason, at, actor: options.actor})
    } catch (error) {
      result.failed.push({ref: l.ref, ...describeNatsError(error)})
    }
  })
  return result
}
