import type {LedgerState} from './ledger.js'
import type {DeadLetter} from './model.js'
import {replayTargetProblem} from './provenance.js'
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

/** Decides, from the ledger, whether and how one dead letter is replayed (docs/operations.md, dead letters, issue item 6). */
export function decideReplay(
  letter: DeadLetter,
  ledger: LedgerState,
  options: {force: boolean; toSubject?: string},
): ReplayDecision {
  const key = ledgerKey(letter)
  // In flight as the listing saw it (a journal of an earlier incarnation of the stream does not count).
  const inFlight = letter.replay_in_progress ? ledger.inFlight.get(key) : undefined
  // Only a dead letter whose original is provably the message that failed is ever sent (provenance.ts).
  if (letter.status === 'invalid') {
    return {
      skip: `not a valid dead-letter advisory (${letter.problems.map((p) => p.message).join('; ')}); never replayed`,
    }
  }
  if (letter.status === 'missing' || letter.missing_reason !== null || letter.subject === null) {
    const why = letter.problems[0]?.message ?? 'the original message is gone (deleted or aged out)'
    return {skip: `${why}, so there is nothing to replay`}
  }
  const subject = inFlight?.to_subject ?? options.toSubject ?? letter.subject
  const refused = replayTargetProblem(subject)
  if (refused) {
    const hint = inFlight || options.toSubject ? '' : '; --to SUBJECT sends it to a command subject instead'
    return {skip: `cannot replay to ${subject}: ${refused}${hint}`}
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
  const failedAgain = letter.last_replay && repeatedFailure(letter)
  if (failedAgain && !options.force) {
    const r = letter.last_replay!
    return {
      skip: `its last replay (seq ${r.seq}, by ${r.actor} at ${r.at}) ${failedAgain}; replaying it again is likely to fail the same way: use --force to send it anyway`,
    }
  }
  // A replay that failed with another error than the dead letter's own may be tried again (the cause changed).
  const retryable = letter.status === 'replay_failed' && !failedAgain
  if (last?.action === 'replayed' && !options.force && !retryable) {
    const seq = last.new_seq ? ` as seq ${last.new_seq}` : ''
    return {skip: `already replayed${seq} by ${last.actor} at ${last.at}; use --force to send it again`}
  }
  if (last?.action === 'discarded' && !options.force) {
    return {skip: `discarded by ${last.actor} at ${last.at}; use --force to replay it anyway`}
  }
  const generation = (ledger.generation.get(key) ?? 0) + 1
  return {item: {letter, key, subject, replay_id: replayIdFor(letter, generation), generation, resume: null}}
}

/**
 * How a dead letter's last replay failed the same way as the dead letter itself (the same error code, or
 * no error code known to tell them apart), in words; undefined when it did not fail, or failed otherwise.
 */
export function repeatedFailure(letter: DeadLetter): string | undefined {
  const r = letter.last_replay
  if (!r || (r.outcome !== 'failed' && r.outcome !== 'dead_lettered')) return undefined
  const how = r.outcome === 'failed' ? 'failed' : 'was dead-lettered again'
  const code = r.error?.code
  if (code === undefined) return `${how} (no error code given)`
  if (letter.failure && letter.failure.code !== code) return undefined
  return `${how} with the same error ${code}${r.error?.message ? ` (${r.error.message})` : ''}`
}
