import {Flags} from '@oclif/core'

import {durationFlag} from '../base-command.js'
import {TYPE_PATTERN_HELP} from '../contract/match.js'
import {GROUP_KEYS} from './group.js'
import {DEAD_LETTER_STATUSES} from './model.js'
import type {DeadLetterSelection} from './read.js'

/** The selection flags shared by `dlq list`, `dlq replay --all` and `dlq discard --all`. */
export const selectionFlags = {
  since: durationFlag({summary: 'Only dead letters from this long ago on (e.g. 1h, 7d).'}),
  stream: Flags.string({summary: 'Only dead letters of this stream (e.g. DV_CMD).'}),
  consumer: Flags.string({summary: 'Only dead letters of this consumer (e.g. maskin).'}),
  type: Flags.string({summary: TYPE_PATTERN_HELP}),
  tenant: Flags.string({summary: 'Only this tenant_id.'}),
}

export const statusFlag = Flags.string({
  summary: 'Only dead letters in this state.',
  options: [...DEAD_LETTER_STATUSES, 'all'],
  default: 'pending',
})

export const groupByFlag = Flags.string({
  summary: 'Count dead letters per type, consumer, service, reason or error instead of listing them.',
  options: [...GROUP_KEYS],
})

/** Turns the parsed selection flags into the service's selection. */
export function selectionFrom(flags: {
  since?: number
  stream?: string
  consumer?: string
  type?: string
  tenant?: string
  status?: string
}): DeadLetterSelection {
  return {
    ...(flags.since !== undefined ? {since: new Date(Date.now() - flags.since)} : {}),
    ...(flags.stream ? {stream: flags.stream} : {}),
    ...(flags.consumer ? {consumer: flags.consumer} : {}),
    ...(flags.type ? {type: flags.type} : {}),
    ...(flags.tenant ? {tenant: flags.tenant} : {}),
    ...(flags.status ? {status: flags.status as DeadLetterSelection['status']} : {}),
  }
}
