/**
 * The names of the standard `dataverket` layout (DESIGN.md section 5). Every module that reads or writes
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
