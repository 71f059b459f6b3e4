import type {KV} from '@nats-io/kv'

import {refused, usageError} from '../errors.js'
import {DLQ_TRIAGE_BUCKET} from '../layout/names.js'
import type {SiteConnection} from '../nats/connection.js'
import {describeNatsError, isStreamNotFound, isWrongLastSequence} from '../nats/errors.js'
import {readStream, StreamMissing} from '../nats/reader.js'
import {retryTransient} from '../nats/transient.js'
import {
  type DeadLetter,
  type DlqTriageResult,
  type TriageAction,
  type TriageHold,
  type TriageNote,
  TriageRecord,
} from './model.js'
import {refFromLedgerKey, ledgerKey} from './ref.js'

/**
 * Triage of dead letters (docs/operations.md, "Triage"): an operator holds a dead letter (or a whole
 * failure group) with a note, so that `replay --all` and `discard --all` leave it alone until it is
 * released, and anyone can add notes. The state lives in the KV bucket `dv_dlq_triage`, one key per dead
 * letter (`<stream>.<seq>`, as the ledger), and every write is a compare-and-set on the key's revision
 * (`kv.create` for a new key, `kv.update(key, value, revision)` otherwise): two operators writing at once
 * never lose each other's update. The loser re-reads and applies its change to what is there now, up to
 * CAS_ATTEMPTS times; if what is there now makes its change wrong (a hold on a letter another operator
 * has just held), it refuses instead.
 */

/** Notes kept per dead letter: the oldest go first (the bucket's history keeps 16 revisions besides). */
export const MAX_NOTES = 100
/** A note is a sentence or a paragraph, not a document. */
export const MAX_NOTE_LENGTH = 2000
/** Compare-and-set rounds before a write gives up (each lost round means another operator wrote). */
export const CAS_ATTEMPTS = 12

export const emptyTriage = (): TriageRecord => ({held: null, notes: [], original_time: null})

/** The triage state of one site, by ledger key, as read in one pass. */
export type TriageState = Map<string, TriageRecord>

/** The triage record that applies to this dead letter, if any (same incarnation of its stream). */
export function triageOf(letter: DeadLetter, state: TriageState): TriageRecord | null {
  const record = state.get(ledgerKey(letter))
  if (!record) return null
  if (record.original_time && letter.original_time && record.original_time !== letter.original_time) return null
  return record
}

export function holdOf(letter: DeadLetter, state: TriageState): TriageHold | null {
  return triageOf(letter, state)?.held ?? null
}

/** Why a held dead letter is skipped, in the plan: who holds it, since when and why. */
export function heldReason(hold: TriageHold): string {
  return `held by ${hold.owner} since ${hold.at}: ${hold.note}; dlq release it first`
}

/**
 * Every triage record of the site: the last value of each key, read once (an ordered consumer, last per
 * subject). A site without the bucket has none.
 */
export async function loadTriage(conn: SiteConnection): Promise<TriageState> {
  const state: TriageState = new Map()
  const prefix = `$KV.${DLQ_TRIAGE_BUCKET}.`
  try {
    const entries = readStream(
      conn,
      {stream: `KV_${DLQ_TRIAGE_BUCKET}`, filterSubject: `${prefix}>`},
      {start: 'last-per-subject', headers: true},
    )
    for await (const m of entries) {
      const op = m.headers?.['KV-Operation']?.[0]
      const key = m.subject.slice(prefix.length)
      if (!refFromLedgerKey(key)) continue
      // In stream order: a later value (or deletion) of a key replaces an earlier one. (A read whose
      // consumer sits on a replica still catching up hands out an older value before the current one.)
      const record = op === 'DEL' || op === 'PURGE' ? undefined : parseRecord(m.data)
      if (record) state.set(key, record)
      else state.delete(key)
    }
  } catch (error) {
    if (error instanceof StreamMissing) return state
    throw error
  }
  return state
}

/** What a triage write does to a record: the new record, or why it is refused given what is there now. */
type Change = (current: TriageRecord) => TriageRecord | {refuse: string}

/** The change of one action (docs/operations.md, "Triage"). */
export function changeFor(action: TriageAction, actor: string, at: string, note: string, letter: DeadLetter): Change {
  const entry: TriageNote = {kind: action, actor, at, text: note}
  const withNote = (r: TriageRecord): TriageNote[] => (note || action !== 'release' ? [...r.notes, entry] : r.notes)
  return (current) => {
    const base = {...current, original_time: letter.original_time, notes: withNote(current).slice(-MAX_NOTES)}
    switch (action) {
      case 'note':
        return base
      case 'hold':
        // Another operator's hold is theirs: replacing it would lose their reason. Release it first.
        if (current.held && current.held.owner !== actor)
          return {refuse: `already held by ${current.held.owner} since ${current.held.at}: ${current.held.note}`}
        return {...base, held: {owner: actor, at, note}}
      case 'release':
        if (!current.held) return {refuse: 'not held'}
        return {...base, held: null}
    }
  }
}

export class TriageStore {
  private constructor(private readonly kv: KV) {}

  /** Opens the bucket; with `create`, creates it (history 16) when the layout has not. Null when absent. */
  static async open(conn: SiteConnection, options: {create: boolean}): Promise<TriageStore | null> {
    const {Kvm} = await import('@nats-io/kv')
    const kvm = new Kvm(await conn.js())
    try {
      const kv = await kvm.open(DLQ_TRIAGE_BUCKET)
      await kv.status()
      return new TriageStore(kv)
    } catch (error) {
      if (!isStreamNotFound(error)) throw error
      if (!options.create) return null
      return new TriageStore(await kvm.create(DLQ_TRIAGE_BUCKET, {history: 16}))
    }
  }

  /**
   * Applies `change` to the key by compare-and-set: reads the value and its revision, writes the changed
   * value only if the revision is still the same (create if the key has none), and on a lost race reads
   * again and re-applies the change to what the other writer left. A refusal (the state changed in a way
   * that matters) is returned as such; too many lost races is refused (exit 6).
   */
  async apply(
    key: string,
    change: Change,
  ): Promise<{record: TriageRecord; revision: number; retries: number} | {refuse: string}> {
    for (let attempt = 0; attempt < CAS_ATTEMPTS; attempt++) {
      const entry = await retryTransient(() => this.kv.get(key))
      const live = entry && entry.operation === 'PUT' ? entry : null
      const current = (live && parseRecord(live.value)) || emptyTriage()
      const next = change(current)
      if ('refuse' in next) return next
      const value = JSON.stringify(next)
      try {
        const revision =
          entry === null
            ? await this.kv.create(key, value)
            : // A deleted key keeps its revision: the update is still conditional on it.
              await this.kv.update(key, value, entry.revision)
        return {record: next, revision, retries: attempt}
      } catch (error) {
        if (!isWrongLastSequence(error)) throw error
        // Another operator wrote first: wait a little (less contention next round) and decide again.
        await new Promise((r) => setTimeout(r, 5 + Math.random() * 20 * (attempt + 1)))
      }
    }
    throw refused(
      `The triage of ${key} kept changing while it was written (${CAS_ATTEMPTS} attempts); nothing was changed.`,
      'triage-contended',
      'Run the command again.',
    )
  }
}

/**
 * Holds, releases or annotates dead letters (already selected and read by the caller): one
 * compare-and-set write per dead letter, a few at a time.
 */
export async function runTriage(
  conn: SiteConnection,
  letters: DeadLetter[],
  options: {action: TriageAction; actor: string; note: string},
): Promise<DlqTriageResult> {
  const result: DlqTriageResult = {action: options.action, changed: [], skipped: [], failed: []}
  if (letters.length === 0) return result
  const store = (await TriageStore.open(conn, {create: true}))!
  const {mapPool} = await import('./pool.js')
  await mapPool(letters, 16, async (letter) => {
    const at = new Date().toISOString()
    try {
      const done = await store.apply(
        ledgerKey(letter),
        changeFor(options.action, options.actor, at, options.note, letter),
      )
      if ('refuse' in done) {
        result.skipped.push({ref: letter.ref, reason: done.refuse})
        return
      }
      result.changed.push({
        ref: letter.ref,
        action: options.action,
        actor: options.actor,
        at,
        note: options.note,
        held: done.record.held,
        revision: done.revision,
        retries: done.retries,
      })
    } catch (error) {
      result.failed.push({ref: letter.ref, ...describeNatsError(error)})
    }
  })
  const order = new Map(letters.map((l, i) => [l.ref, i]))
  result.changed.sort((a, b) => order.get(a.ref)! - order.get(b.ref)!)
  return result
}

/** A note from the command line: trimmed, not empty (unless allowed), bounded. */
export function checkedNote(text: string | undefined, options: {required: boolean}): string {
  const note = (text ?? '').trim()
  if (options.required && !note) throw usageError('--note must say why.', 'note-required')
  if (note.length > MAX_NOTE_LENGTH)
    throw usageError(`--note is ${note.length} characters; at most ${MAX_NOTE_LENGTH}.`, 'note-too-long')
  return note
}

const decoder = new TextDecoder()

/** A stored record; null for anything that is not one (the bucket is written by others too). */
function parseRecord(value: Uint8Array): TriageRecord | null {
  try {
    const parsed = TriageRecord.safeParse(JSON.parse(decoder.decode(value)))
    return parsed.success ? parsed.data : null
  } catch {
    return null
  }
}

/**
 * `dlq hold`, `dlq release`, `dlq note`: reads the targets (select.ts), then writes each one's triage by
 * compare-and-set. References with no dead letter are skipped as such (`notFound`).
 */
export async function triageTargets(
  conn: SiteConnection,
  targets: Parameters<typeof import('./select.js').readTargets>[1],
  options: {action: TriageAction; actor: string; note: string},
): Promise<{result: DlqTriageResult; notFound: string[]; selected: number}> {
  const {readTargets} = await import('./select.js')
  const {letters, notFound} = await readTargets(conn, targets)
  // A release by filter touches only the held ones; the others are not "skipped", just not selected.
  const state = options.action === 'release' && !('refs' in targets) ? await loadTriage(conn) : undefined
  const selected = state ? letters.filter((l) => holdOf(l, state)) : letters
  const result = await runTriage(conn, selected, options)
  for (const ref of notFound) result.skipped.push({ref, reason: 'no such dead letter (no advisory in DV_DLQ)'})
  return {result, notFound, selected: selected.length}
}
