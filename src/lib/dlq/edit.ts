import {randomUUID} from 'node:crypto'

import {validateEnvelope} from '../contract/envelope.js'
import type {Problem} from '../contract/problems.js'
import {parseEnvelope} from './original.js'

export type EditedEnvelope = {ok: true; data: Uint8Array; id: string} | {ok: false; problems: Problem[]}

/** The text an operator edits: the original envelope, pretty-printed. */
export function editableText(original: Uint8Array): string {
  const envelope = parseEnvelope(original)
  return envelope ? JSON.stringify(envelope, null, 2) + '\n' : new TextDecoder().decode(original)
}

/**
 * `dlq replay --edit` (docs/operations.md, dead letters): the edited envelope becomes a new message with a new `id`,
 * `causation_id` = the original's id and `actor` = the operator, and must pass the contract before it is sent.
 */
export function prepareEdited(
  editedText: string,
  original: {id: string | null},
  options: {actor: string; subject: string},
): EditedEnvelope {
  let value: unknown
  try {
    value = JSON.parse(editedText)
  } catch (error) {
    return {ok: false, problems: [{path: '$', code: 'not-json', message: `Not JSON: ${(error as Error).message}`}]}
  }
  if (!value || typeof value !== 'object' || Array.isArray(value)) {
    return {ok: false, problems: [{path: '$', code: 'not-object', message: 'The envelope must be a JSON object.'}]}
  }
  const id = randomUUID()
  const envelope = {
    ...(value as Record<string, unknown>),
    id,
    ...(original.id ? {causation_id: original.id} : {}),
    actor: options.actor,
    time: new Date().toISOString(),
  }
  const check = validateEnvelope(envelope, {subject: options.subject})
  if (!check.valid) return {ok: false, problems: check.problems}
  return {ok: true, data: new TextEncoder().encode(JSON.stringify(envelope)), id}
}
