import {BaseCommand} from '../../cli/base-command.js'
import {
  groupByFlag,
  groupFilterFlags,
  groupFilterFrom,
  listingFlags,
  listOrderFrom,
  readFlags,
  selectionFlags,
  selectionFrom,
  statusFlag,
} from '../../cli/flags.js'
import {ExitCode} from '../../lib/exit-codes.js'
import type {GroupKey} from '../../lib/dlq/group-key.js'
import type {DlqListResult} from '../../lib/dlq/model.js'
import {DEAD_LETTER_LISTING, renderDeadLetterList} from '../../lib/render/dlq.js'
import {orderList, sortFields} from '../../lib/render/listing.js'
import {warn} from '../../lib/render/terminal.js'

export default class DlqList extends BaseCommand<typeof DlqList> {
  static override summary = 'List dead letters with their reason, deliveries, correlation, failure and status.'
  static override description = `Reads the dead-letter advisories captured by DV_DLQ, fetches each original command by stream and sequence, takes the worker's failure from the term reason in the advisory (nats-server 2.10.4+), else joins it from a dv.task.evt.failed event caused by the command (else one of its workflow), and joins the ledger of what operators did.

Status: pending (nobody acted yet), replayed, replay_failed (its last replay failed again or its copy was dead-lettered; last_replay in the JSON says how), discarded, missing (the original is gone, or what is stored at its sequence is provably not the message that failed: the stream was recreated, it lies outside the consumer's filter, or the advisory points outside the layout's command streams; missing_reason says which; it cannot be replayed), or invalid (a DV_DLQ message that is not a valid advisory, listed with its problems as DV_DLQ@<seq>; never replayed). By default only pending dead letters are listed; --status all shows every one.

An original that DV_CMD no longer has is read from the dead-letter archive DV_DLQ_ARCHIVE (original_source "archive"; see dlq capture). Every listing also copies the originals it read into the archive when it has no copy of them yet ("archived" in the JSON counts them); a site without the archive is a warning. An advisory that reports 0 deliveries is a message no worker received: its failure says "never delivered" (never_delivered in the JSON).

A reference is <stream>:<seq>, or <site>/<stream>:<seq> when several sites are read (--site repeated, --all-sites). Use it with dlq show, dlq replay and dlq discard.

On a terminal the table fits the window: ref, age, reason, correlation (its first characters, enough to recognise it), failure and status, with consumer, deliveries, type and tenant as the width allows; --wide shows every column whole. Piped, every column, complete and tab-separated, without a header row. --sort and --limit order and cut the result itself (--json too); "total" stays the number of dead letters that match. With --group-by, the groups stay largest first and --limit keeps the largest.

Failure groups: --group-by error|reason|type|service|consumer|tenant counts the dead letters per group, each with a stable key: <by>:<value> when the value is plain (error:quota-exceeded, service:maskin), <by>:_ when the dead letters have no such value (no failure known), else <by>:= and 10 hex digits of the value's SHA-256 (a value with spaces or over 48 characters). The same value always gives the same key; dlq replay --group KEY, dlq discard --group KEY and dlq hold --group KEY act on that group, and --group KEY here lists it.`
  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --since 24h --consumer maskin',
    '<%= config.bin %> <%= command.id %> --group-by type --status all',
    '<%= config.bin %> <%= command.id %> --group-by error',
    '<%= config.bin %> <%= command.id %> --group error:quota-exceeded',
    '<%= config.bin %> <%= command.id %> --all-sites --json',
    '<%= config.bin %> <%= command.id %> --sort -deliveries --limit 20',
  ]

  static override flags = {
    ...readFlags,
    ...selectionFlags,
    ...groupFilterFlags,
    status: statusFlag,
    'group-by': groupByFlag,
    ...listingFlags(sortFields(DEAD_LETTER_LISTING)),
  }

  async run(): Promise<DlqListResult> {
    const fan = await this.connectMany({allSites: this.flags['all-sites']})
    const groupBy = this.flags['group-by'] as GroupKey | undefined
    const order = listOrderFrom(this.flags, sortFields(DEAD_LETTER_LISTING))
    const {listDeadLetters} = await import('../../lib/dlq/list.js')
    const filter = groupFilterFrom(this.flags)
    const {lost, ...all} = await listDeadLetters(fan, {
      ...selectionFrom(this.flags),
      filter,
      ...(groupBy ? {groupBy} : {}),
    })
    const result: DlqListResult = {
      ...all,
      dead_letters: orderList(all.dead_letters, DEAD_LETTER_LISTING, order),
      groups: order.limit === undefined ? all.groups : all.groups.slice(0, order.limit),
    }
    for (const message of lost) warn(`${message} (the other sites are listed)`)
    for (const message of all.warnings) warn(message)
    if (!this.jsonEnabled()) await renderDeadLetterList(this.term, result, groupBy)
    return this.exitWith(result, lost.length ? ExitCode.partial : ExitCode.ok)
  }
}
