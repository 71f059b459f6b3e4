import {readFile} from 'node:fs/promises'

import {Flags} from '@oclif/core'

import {usageError} from '../errors.js'
import type {EnvelopeInput} from './envelope.js'
import {readAll} from '../stdin.js'

/** The envelope flags shared by `publish` and `request` (DESIGN.md section 7). */
export const envelopeFlags = {
  data: Flags.string({
    char: 'd',
    summary: 'Payload as a JSON object; "-" reads it from standard input.',
    exclusive: ['data-file'],
  }),
  'data-file': Flags.string({summary: 'Read the payload from a JSON file ("-" for standard input).'}),
  type: Flags.string({
    summary: 'Envelope type; default: the registered type for the subject, else <service>.<action>.requested.',
  }),
  'subject-id': Flags.string({summary: 'Envelope subject: the resource id (the task id for task events).'}),
  tenant: Flags.string({summary: 'tenant_id.'}),
  project: Flags.string({summary: 'project_id.'}),
  environment: Flags.string({summary: 'environment_id.'}),
  datacenter: Flags.string({summary: "datacenter_id; default: the site's name."}),
  actor: Flags.string({summary: 'Who initiated the action; default: the config actor, else the OS user.'}),
  source: Flags.string({summary: 'Emitting service; default sentral (events: the subject service).'}),
  'correlation-id': Flags.string({summary: 'Workflow id; default: a new one (the envelope id).'}),
  'causation-id': Flags.string({summary: 'Id of the message that caused this one.'}),
  dataschema: Flags.string({summary: 'Payload schema version, <type>/v<N> (absent means v1).'}),
  id: Flags.string({summary: 'Envelope id (also Nats-Msg-Id); default: a new UUID.'}),
  schemas: Flags.string({
    summary: 'Directory of team JSON Schema files (default: the config "schemas").',
    env: 'DVCTL_SCHEMAS',
  }),
}

export interface EnvelopeFlagValues {
  data?: string
  'data-file'?: string
  type?: string
  'subject-id'?: string
  tenant?: string
  project?: string
  environment?: string
  datacenter?: string
  actor?: string
  source?: string
  'correlation-id'?: string
  'causation-id'?: string
  dataschema?: string
  id?: string
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
