import {createHash} from 'node:crypto'

import type {Service} from '../../contract/services.js'

/**
 * The entity each simulated service reports about in its domain events (`dv.<service>.evt.<entity>.<verb>`),
 * after the ADR's examples: `dv.maskin.evt.server.provisioned`, `dv.plattform.evt.cluster.ready`.
 */
export const SERVICE_ENTITY: Record<Service, string> = {
  sentral: 'request',
  identitet: 'identity',
  maskin: 'server',
  plattform: 'cluster',
  tjeneste: 'service',
  objekt: 'bucket',
  nett: 'network',
}

/** The past tense of a command's action, as an event verb: `provision` -> `provisioned`, `apply` -> `applied`. */
export function pastTense(action: string): string {
  if (action.endsWith('ed')) return action
  if (action.endsWith('e')) return `${action}d`
  if (/[^aeiou]y$/.test(action)) return `${action.slice(0, -1)}ied`
  return `${action}ed`
}

/**
 * A UUID derived from a name (RFC 4122 version 5 layout over SHA-1). Workers name every message they emit
 * after the command delivery that caused it, so a redelivered command re-emits the same ids and JetStream's
 * duplicate window drops the copies (the ADR's idempotent consumer).
 */
export function nameUuid(name: string): string {
  const hash = createHash('sha1').update(`dvctl-sandbox:${name}`).digest()
  hash[6] = (hash[6] & 0x0f) | 0x50
  hash[8] = (hash[8] & 0x3f) | 0x80
  const hex = hash.subarray(0, 16).toString('hex')
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`
}
