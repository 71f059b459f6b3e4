import chalk from 'chalk'

import type {DeadLetter, DlqListResult} from '../dlq/model.js'
import {err, formatTime, out, table, type Terminal} from './terminal.js'

const statusColour: Record<DeadLetter['status'], (s: string) => string> = {
  pending: chalk.yellow,
  replayed: chalk.green,
  discarded: chalk.gray,
  missing: chalk.red,
}

function failureText(l: DeadLetter): string {
  if (!l.failure) return '-'
  return l.failure.message ? `${l.failure.code}: ${l.failure.message}` : l.failure.code
}

/** `dlq list`: one row per dead letter, or the group counts with `--group-by`. */
export async function renderDeadLetterList(term: Terminal, result: DlqListResult, groupBy?: string): Promise<void> {
  if (groupBy) {
    await table(
      term,
      [groupBy, 'count'],
      result.groups.map((g) => [g.key, g.count]),
    )
    if (term.stdoutTTY) err(`${result.total} dead letter(s)`)
    return
  }
  if (result.dead_letters.length === 0) {
    err('No dead letters match.')
    return
  }
  await table(
    term,
    ['ref', 'age', 'consumer', 'reason', 'deliveries', 'type', 'tenant', 'correlation', 'failure', 'status'],
    result.dead_letters.map((l) => [
      l.ref,
      formatTime(term, l.dead_lettered_at),
      l.consumer,
      l.reason,
      l.deliveries ?? '-',
      l.type ?? '-',
      l.tenant_id ?? '-',
      l.correlation_id ?? '-',
      failureText(l),
      statusColour[l.status](l.status + (l.replay_in_progress ? ' (replay interrupted)' : '')),
    ]),
  )
  if (term.stdoutTTY) err(`${result.total} dead letter(s)`)
}

export function renderLines(lines: string[]): void {
  for (const line of lines) out(line)
}
