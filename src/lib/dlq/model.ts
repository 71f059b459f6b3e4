import {z} from 'zod'

import {ProblemSchema} from '../contract/problem-schema.js'
import {DEAD_LETTER_STATUSES} from './statuses.js'

/**
 * The JSON results of `dvctl dlq ...` (docs/architecture.md, JSON results). Field names are the contract; tests parse the
 * CLI's `--json` output with these schemas.
 */

export const LedgerAction = z.enum(['replaying', 'replayed', 'discarded'])
export type LedgerAction = z.infer<typeof LedgerAction>

/** One operator action on one dead letter, as stored in the ledger bucket (history 64: the audit trail). */
export const LedgerEntry = z.object({
  action: LedgerAction,
  actor: z.string(),
  at: z.string(),
  reason: z.string().nullable(),
  replay_id: z.string().nullable(),
  /** Replay attempt generation: 1 for the first replay, +1 for each `--force`. */
  generation: z.number().nullable().optional(),
  new_seq: z.number().nullable(),
  to_subject: z.string().nullable(),
  /** `--edit`: the id of the new envelope that was sent. */
  new_id: z.string().nullable().optional(),
  /**
   * A journal's replay: when the server stored its chunk's `replaying` record (its copy is stored after it;
   * `at` is when it was confirmed). Journals written before dvctl recorded the server's time have the client's.
   */
  started_at: z.string().optional(),
})
export type LedgerEntry = z.infer<typeof LedgerEntry>

/**
 * What followed one replayed copy (dlq/outcome.ts): `pending` (nothing yet), `succeeded` / `failed` (a
 * task event caused by the copy), `dead_lettered` (the copy itself became a dead letter); `error`: the
 * failure given, when known.
 */
export const ReplayOutcome = z.object({
  replay_id: z.string(),
  /** The copy's sequence in its stream. */
  seq: z.number(),
  at: z.string(),
  actor: z.string(),
  outcome: z.enum(['pending', 'succeeded', 'failed', 'dead_lettered']),
  error: z.object({code: z.string(), message: z.string()}).nullable(),
})
export type ReplayOutcome = z.infer<typeof ReplayOutcome>

/**
 * `missing`: the original is gone, or what is stored at its sequence is provably not the message that failed
 * (`missing_reason` says which); `invalid`: the advisory itself fails its checks (`problems`). Neither is
 * ever replayed.
 */
export const DeadLetterStatus = z.enum(DEAD_LETTER_STATUSES)
export type DeadLetterStatus = z.infer<typeof DeadLetterStatus>
export {DEAD_LETTER_STATUSES}

/** Why the server gave up on a command: `max_deliver` reached, or a worker terminated it. */
export const DeadLetterReason = z.enum(['max_deliveries', 'terminated'])
export type DeadLetterReason = z.infer<typeof DeadLetterReason>

/**
 * Why a dead letter is `missing`: its original is gone, or what is stored at its sequence is provably not
 * the message that failed (src/lib/dlq/provenance.ts checks them in this order).
 */
export const MissingReasonCode = z.enum([
  'not-a-command-stream',
  'stream-gone',
  'gone',
  'stream-recreated',
  'stored-after-advisory',
  'outside-consumer-filter',
  'unknown-consumer',
])
export type MissingReasonCode = z.infer<typeof MissingReasonCode>

export const Failure = z.object({code: z.string(), message: z.string()})
export type Failure = z.infer<typeof Failure>

export const DeadLetter = z.object({
  ref: z.string(),
  site: z.string(),
  stream: z.string(),
  seq: z.number(),
  consumer: z.string(),
  reason: DeadLetterReason,
  deliveries: z.number().nullable(),
  /**
   * The advisory reports 0 deliveries: the server gave the message up without any worker ever receiving
   * it (it dropped pending messages), so it is no worker's failure.
   */
  never_delivered: z.boolean(),
  dead_lettered_at: z.string(),
  subject: z.string().nullable(),
  type: z.string().nullable(),
  id: z.string().nullable(),
  correlation_id: z.string().nullable(),
  tenant_id: z.string().nullable(),
  status: DeadLetterStatus,
  failure: Failure.nullable(),
  /** When the original was stored (null when it is gone). */
  original_time: z.string().nullable(),
  /**
   * Where the original was read: its own stream, or the dead-letter archive (DV_DLQ_ARCHIVE) once the
   * stream no longer has it; null when it is gone from both.
   */
  original_source: z.enum(['stream', 'archive']).nullable(),
  /** The term reason a worker gave (servers 2.10.4+), else null. */
  term_reason: z.string().nullable(),
  /** The last ledger entry, if an operator acted on it. */
  last_action: LedgerEntry.nullable(),
  /** A replay was started and not confirmed (interrupted); running it again finishes it without a second copy. */
  replay_in_progress: z.boolean(),
  /** What followed its last replay (status `replay_failed` when it failed or was dead-lettered again); else null. */
  last_replay: ReplayOutcome.nullable(),
  /** Where the advisory is stored. */
  advisory: z.object({stream: z.string(), seq: z.number()}),
  /** Why the dead letter is `missing`; else null. */
  missing_reason: MissingReasonCode.nullable(),
  /** What is wrong: the advisory's problems (`invalid`), or the missing reason in words (`missing`). */
  problems: z.array(ProblemSchema),
})
export type DeadLetter = z.infer<typeof DeadLetter>

/** A failure group of `dlq list --group-by` (dlq/group.ts): its stable key, what it groups by, the shared value. */
export const DeadLetterGroup = z.object({
  key: z.string(),
  by: z.string(),
  value: z.string().nullable(),
  count: z.number(),
})

export const SiteReadStatus = z.object({site: z.string(), url: z.string(), error: z.string().optional()})

export const DlqListResult = z.object({
  dead_letters: z.array(DeadLetter),
  groups: z.array(DeadLetterGroup),
  sites: z.array(SiteReadStatus),
  total: z.number(),
  /** Originals this listing copied into the dead-letter archive (those read and not archived yet). */
  archived: z.number(),
  /** What the listing could not do, in words (e.g. a site without the archive). */
  warnings: z.array(z.string()),
})
export type DlqListResult = z.infer<typeof DlqListResult>

export const HistoryEntry = LedgerEntry.extend({
  ref: z.string(),
  revision: z.number(),
  /** A confirmed replay's outcome (dlq/outcome.ts) and the failure given, when known. */
  outcome: ReplayOutcome.shape.outcome.optional(),
  error: ReplayOutcome.shape.error.optional(),
})
export type HistoryEntry = z.infer<typeof HistoryEntry>

export const DlqHistoryResult = z.object({history: z.array(HistoryEntry)})
export type DlqHistoryResult = z.infer<typeof DlqHistoryResult>

export const StoredMessageJson = z.object({
  site: z.string(),
  stream: z.string(),
  seq: z.number(),
  subject: z.string(),
  time: z.string(),
  envelope: z.unknown(),
})

export const DlqShowResult = z.object({
  dead_letter: DeadLetter,
  advisory: z.record(z.string(), z.unknown()).nullable(),
  envelope: z.unknown().nullable(),
  /** The original's bytes when they are not a JSON document. */
  raw: z.string().nullable(),
  headers: z.record(z.string(), z.array(z.string())),
  failure_events: z.array(StoredMessageJson),
  history: z.array(HistoryEntry),
  /** Each confirmed replay, oldest first, with what followed its copy. */
  replays: z.array(ReplayOutcome),
  /** Held (by whom, why) and the operators' notes (dlq hold, dlq note); null when nobody triaged it. */
  triage: z.lazy(() => TriageRecord).nullable(),
  /**
   * The workflow around it: `workflow show`'s result for its correlation (source `workflow`), or `none`
   * (no correlation id, or the workflow could not be read: `error`).
   */
  workflow: z.looseObject({
    source: z.enum(['workflow', 'none']),
    correlation_id: z.string().nullable(),
    messages: z.array(z.looseObject({site: z.string(), stream: z.string(), seq: z.number(), subject: z.string()})),
    error: z.string().optional(),
  }),
})
export type DlqShowResult = z.infer<typeof DlqShowResult>

// ---- triage (dlq/triage.ts) and plan selections (dlq/select.ts) ----

export const TriageHold = z.object({owner: z.string(), at: z.string(), note: z.string()})
export type TriageHold = z.infer<typeof TriageHold>

export const TriageNote = z.object({
  /** `note`: a note; `hold`/`release`: the note given with a hold or a release. */
  kind: z.enum(['note', 'hold', 'release']),
  actor: z.string(),
  at: z.string(),
  text: z.string(),
})
export type TriageNote = z.infer<typeof TriageNote>

export const TriageRecord = z.object({
  /** Held (by whom, since when, why), or null. */
  held: TriageHold.nullable(),
  notes: z.array(TriageNote),
  /**
   * When the dead letter's original was stored: a record of an earlier incarnation of the stream (the same
   * `<stream>.<seq>`, another message) does not apply to the dead letter there now.
   */
  original_time: z.string().nullable(),
})
export type TriageRecord = z.infer<typeof TriageRecord>

export const HeldItem = TriageHold.extend({ref: z.string()})
export type HeldItem = z.infer<typeof HeldItem>

/** What a plan touches (in the JSON result and above the confirmation): how many, which groups, what is held. */
export const PlanSelection = z.object({
  /** Dead letters the action would touch. */
  letters: z.number(),
  /** Their failure groups (by the --group's grouping, else by error with a failure filter, else by service), largest first. */
  groups: z.array(z.object({key: z.string(), count: z.number()})),
  /** Selected dead letters left alone because they are held, with who holds them and why. */
  held: z.array(HeldItem),
})
export type PlanSelection = z.infer<typeof PlanSelection>

export const TriageAction = z.enum(['hold', 'release', 'note'])
export type TriageAction = z.infer<typeof TriageAction>

export const ReplayedItem = z.object({
  ref: z.string(),
  subject: z.string(),
  replay_id: z.string(),
  new_seq: z.number(),
  duplicate: z.boolean(),
  new_id: z.string().nullable(),
})
export const PlannedReplay = z.object({ref: z.string(), subject: z.string(), replay_id: z.string()})
export type PlannedReplay = z.infer<typeof PlannedReplay>
/** A dead letter a replay or discard leaves alone, and why (already handled, missing, invalid, ...). */
export const SkippedItem = z.object({ref: z.string(), reason: z.string()})
export type SkippedItem = z.infer<typeof SkippedItem>
/** `error`: what happened, in dvctl's words; `code`: stable, for scripts (nats/errors.ts), when known. */
export const FailedItem = z.object({ref: z.string(), error: z.string(), code: z.string().optional()})
export type FailedItem = z.infer<typeof FailedItem>

export const DlqReplayResult = z.object({
  dry_run: z.boolean(),
  /** What is (or, with --dry-run, would be) sent where. */
  plan: z.array(PlannedReplay),
  replayed: z.array(ReplayedItem),
  skipped: z.array(SkippedItem),
  failed: z.array(FailedItem),
  /** Planned and never started: the run stopped (site lost, interrupted); a re-run sends them. */
  not_attempted: z.array(PlannedReplay),
  /** How many dead letters the plan touches, their failure groups and the held ones left alone (select.ts). */
  selection: PlanSelection.optional(),
  /** The replay job of a run that sent anything (`dlq jobs ID`): its id is the run id of its ledger journals. */
  job: z.object({id: z.string(), state: z.string()}).optional(),
  /** `--canary N`: how many were sent first, and which of them failed again (then nothing else was sent). */
  canary: z.object({sent: z.number(), failed: z.array(FailedItem)}).optional(),
  /** `--halt-after K`: the copies that failed again while the run went on; `halted` when K were reached. */
  halt: z.object({after: z.number(), halted: z.boolean(), failed: z.array(FailedItem)}).optional(),
})
export type DlqReplayResult = z.infer<typeof DlqReplayResult>

export const DiscardedItem = z.object({ref: z.string(), reason: z.string(), at: z.string(), actor: z.string()})
export const DlqDiscardResult = z.object({
  dry_run: z.boolean(),
  discarded: z.array(DiscardedItem),
  skipped: z.array(SkippedItem),
  failed: z.array(FailedItem),
  selection: PlanSelection.optional(),
})
export type DlqDiscardResult = z.infer<typeof DlqDiscardResult>

export const TriageChange = z.object({
  ref: z.string(),
  action: TriageAction,
  actor: z.string(),
  at: z.string(),
  /** The note written (empty for a release without one). */
  note: z.string(),
  /** Held after the change. */
  held: TriageHold.nullable(),
  /** The key's revision in the bucket after the write. */
  revision: z.number(),
  /** Compare-and-set rounds lost to other writers before this one landed. */
  retries: z.number(),
})
export type TriageChange = z.infer<typeof TriageChange>

/** The JSON result of `dlq hold`, `dlq release` and `dlq note`. */
export const DlqTriageResult = z.object({
  action: TriageAction,
  changed: z.array(TriageChange),
  skipped: z.array(SkippedItem),
  failed: z.array(FailedItem),
})
export type DlqTriageResult = z.infer<typeof DlqTriageResult>

export const ReplayJobState = z.enum(['running', 'completed', 'cancelling', 'cancelled', 'failed', 'interrupted'])
export const ReplayJob = z.object({
  id: z.string(),
  state: ReplayJobState,
  done: z.number(),
  total: z.number(),
  failed: z.number(),
  actor: z.string(),
  reason: z.string().nullable(),
  started_at: z.string(),
  updated_at: z.string(),
})
export type ReplayJob = z.infer<typeof ReplayJob>
export const DlqJobsResult = z.object({jobs: z.array(ReplayJob)})
export type DlqJobsResult = z.infer<typeof DlqJobsResult>
