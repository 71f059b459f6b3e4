import {readFile} from 'node:fs/promises'

import {usageError} from '../errors.js'
import type {EnvelopeInput} from './envelope.js'
import {readAll} from '../stdin.js'

/** The envelope flags' values: the input's own fields, and the kebab-case ones mapped below. */
export type EnvelopeFlagValues = Partial<
  Pick<
    EnvelopeInput,
    'type' | 'tenant' | 'project' | 'environment' | 'datacenter' | 'actor' | 'source' | 'dataschema' | 'id'
  >
> & {
  data?: string
  'data-file'?: string
  'subject-id'?: string
  'correlation-id'?: string
  'causation-id'?: string
}

/** Maps the flags onto the envelope input; `data` and defaults (actor, datacenter) are given by the caller. */
export function envelopeInputFromFlags(
  subject: string,
  flags: EnvelopeFlagValues,
  filled: {data: unknown; actor: string; datacenter?: string},
): EnvelopeInput {
  return {
    subject,
    data: filled.data,
    type: flags.type,
    subjectId: flags['subject-id'],
    tenant: flags.tenant,
    project: flags.project,
    environment: flags.environment,
    datacenter: flags.datacenter ?? filled.datacenter,
    actor: flags.actor ?? filled.actor,
    source: flags.source,
    correlationId: flags['correlation-id'],
    causationId: flags['causation-id'],
    dataschema: flags.dataschema,
    id: flags.id,
  }
}

/**
 * The payload from `--data`, `--data-file` or standard input (`-`). Not JSON is a usage error (exit 2);
 * JSON that is not an object is left to the envelope validation, which lists it with the other problems.
 * No payload at all is an empty object.
 */
export async function readPayload(flags: EnvelopeFlagValues, stdin: () => Promise<string>): Promise<unknown> {
  let text: string | undefined
  let from = '--data'
  if (flags.data !== undefined) {
    text = flags.data === '-' ? await stdin() : flags.data
    if (flags.data === '-') from = 'standard input'
  } else if (flags['data-file'] !== undefined) {
    const file = flags['data-file']
    from = file === '-' ? 'standard input' : file
    try {
      text = file === '-' ? await stdin() : await readFile(file, 'utf8')
    } catch (error) {
      throw usageError(
        `Cannot read --data-file ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
        'data-file-unreadable',
        'Give a readable JSON file, or the payload inline with --data.',
      )
    }
  }
  if (text === undefined) return {}
  try {
    return JSON.parse(text)
  } catch (error) {
    throw usageError(
      `The payload from ${from} is not JSON: ${(error as Error).message}; nothing was sent.`,
      'payload-not-json',
      `Give a JSON object, e.g. --data '{"server_id":"srv-1"}'.`,
    )
  }
}

export async function readStdin(): Promise<string> {
  return (await readAll()).toString('utf8')
}
