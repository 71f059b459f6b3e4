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

/** Advisory subjects captured by DV_DLQ: the dead-letter path. */
export const DLQ_ADVISORY_SUBJECTS = [
  '$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.>',
  '$JS.EVENT.ADVISORY.CONSUMER.MSG_TERMINATED.>',
] as const

/**
 * The stream `dlq capture` copies dead letters' originals into (issue 16). The name is reserved here so
 * that `--prune` never proposes it, whichever layout created it.
 */
export const DLQ_ARCHIVE_STREAM = 'DV_DLQ_ARCHIVE'

/** The dead-letter audit trail (the ledger and the archive): never deleted by `layout apply --prune`. */
export function isAuditRecord(kind: 'stream' | 'consumer' | 'kv', name: string): boolean {
  return (kind === 'kv' && name === DLQ_LEDGER_BUCKET) || (kind === 'stream' && name === DLQ_ARCHIVE_STREAM)
}
