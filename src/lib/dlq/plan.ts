import type {LedgerState} from './ledger.js'
import type {DeadLetter} from './model.js'
import {ledgerKey} from './ref.js'

/** One dead letter that a replay will send, and how. */
export interface ReplayItem {
  letter: DeadLetter
  key: string
  /** Where the copy goes: the original subject, or `--to`. */
  subject: string
  /** Nats-Msg-Id of the copy: the same for a re-run of an interrupted replay, so JetStream drops the second copy. */
  replay_id: string
  generation: number
  /** An earlier run started this replay and did not confirm it. */
  resume: {at: string} | null
}

export type ReplayDecision = {item: ReplayItem} | {skip: string}

/**
 * The replay id of a dead letter's `generation`-th replay: deterministic, so that a crashed run and its
 * re-run publish with the same Nats-Msg-Id; `--force` starts the next generation (a deliberate second copy).
 */
export function replayIdFor(letter: Pick<DeadLetter, 'site' | 'stream' | 'seq'>, generation: number): string {
  return `dvr-${letter.stream}-${letter.seq}-g${generation}`
}

/** Decides, from the ledger, whether and how one dead letter is replayed (DESIGN.md section 6, issue item 6). */
export function decideReplay(
  letter: DeadLetter,
  ledger: LedgerState,
  options: {force: boolean; toSubject?: string},
): ReplayDecision {
  const key = ledgerKey(letter)
  const inFlight = ledger.inFlight.get(key)
  const subject = options.toSubject ?? letter.subject
  if (letter.status === 'missing' || subject === null) {
    return {skip: 'the original message is gone (deleted or aged out), so there is nothing to replay'}
  }
  if (inFlight) {
    // An interrupted replay is finished with its own id, whatever --force says: never a second copy by accident.
    return {
      item: {
        letter,
        key,
        subject: inFlight.to_subject,
        replay_id: inFlight.replay_id,
        generation: inFlight.generation,
        resume: {at: inFlight.at},
      },
    }
  }
  const last = letter.last_action
  if (last?.action === 'replayed' && !options.force) {
    const seq = last.new_seq ? ` as seq ${last.new_seq}` : ''
    return {skip: `already replayed${seq} by ${last.actor} at ${last.at}; use --force to send it again`}
  }
  if (last?.action === 'discarded' && !options.force) {
    return {skip: `discarded by ${last.actor} at ${last.at}; use --force to replay it anyway`}
  }
  const generation = (ledger.generation.get(key) ?? 0) + 1
  return {item: {letter, key, subject, replay_id: replayIdFor(letter, generation), generation, resume: null}}
}
