/**
 * The names of the standard `dataverket` layout (docs/operations.md, layouts). Every module that reads or writes
 * these streams imports the names from here.
 */
export const STREAMS = {
  cmd: 'DV_CMD',
  evt: 'DV_EVT',
  task: 'DV_TASK',
  dlq: 'DV_DLQ',
} as const

export type StandardStream = (typeof STREAMS)[keyof typeof STREAMS]

/** KV bucket recording what operators did to each dead letter; its history is the audit trail. */
export const DLQ_LEDGER_BUCKET = 'dv_dlq_ledger'

/**
 * KV bucket of the dead letters' triage (issue 16, part 6): which are held, by whom and why, and the
 * operators' notes, one key per dead letter (`<stream>.<seq>`), written by compare-and-set (dlq/triage.ts).
 */
export const DLQ_TRIAGE_BUCKET = 'dv_dlq_triage'

/** Advisory subjects captured by DV_DLQ: the dead-letter path. */
export const DLQ_ADVISORY_SUBJECTS = [
  '$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.>',
  '$JS.EVENT.ADVISORY.CONSUMER.MSG_TERMINATED.>',
] as const

/**
 * The dead-letter archive (docs/contract.md, "The dead-letter archive"): `dlq capture` (and every `dlq list`)
 * copies each dead letter's original command into it, so that the dead letter can still be shown and
 * replayed after DV_CMD has dropped the original. The name is reserved here so that `--prune` never
 * proposes it, whichever layout created it.
 */
export const DLQ_ARCHIVE_STREAM = 'DV_DLQ_ARCHIVE'

/**
 * Subjects of the archive: `dvarchive.<stream>.<seq>`, one message per dead letter. Deliberately outside
 * the `dv.` taxonomy: an archived copy is not a command, and no `dv.>` consumer or mirror may take it for one.
 */
export const DLQ_ARCHIVE_PREFIX = 'dvarchive'

/** The durable consumer on DV_DLQ through which `dlq capture` sees every advisory once. */
export const DLQ_CAPTURE_CONSUMER = 'dlq_capture'

/**
 * KV bucket for the running state of dead-letter processes: `capture.<instance>` holds each `dlq capture`
 * process's heartbeat (history 1: only the latest matters).
 */
export const DLQ_RUNTIME_BUCKET = 'dv_dlq_runtime'

/**
 * The dead-letter audit trail (the ledger, the triage notes, the archive, and the runtime bucket a running
 * capture process writes to): never deleted by `layout apply --prune`.
 */
export function isAuditRecord(kind: 'stream' | 'consumer' | 'kv', name: string): boolean {
  return (
    (kind === 'kv' && (name === DLQ_LEDGER_BUCKET || name === DLQ_RUNTIME_BUCKET || name === DLQ_TRIAGE_BUCKET)) ||
    (kind === 'stream' && name === DLQ_ARCHIVE_STREAM)
  )
}
