import {parseDataschema, type PayloadRegistry} from '../contract/registry.js'
import {parseSubject} from '../contract/taxonomy.js'
import {UserError, usageError} from '../errors.js'
import {ExitCode} from '../exit-codes.js'
import type {Terminal} from '../render/terminal.js'
import {defaultType, type EnvelopeInput} from './envelope.js'

interface JsonSchemaObject {
  properties?: Record<string, {type?: string | string[]; description?: string; enum?: unknown[]}>
  required?: string[]
}

/**
 * `publish --interactive`: prompts (on stderr) for the envelope fields and then the payload, one field per
 * prompt when the type has a registered schema (required fields first), else the payload as one JSON object.
 * Only on a terminal (docs/architecture.md: prompts only when stdin and stdout are TTYs).
 */
export async function promptEnvelope(
  term: Terminal,
  options: {subject: string; registry: PayloadRegistry; defaults: EnvelopeInput},
): Promise<EnvelopeInput> {
  if (!term.interactive) {
    throw usageError(
      '--interactive needs a terminal (stdin and stdout are not both TTYs, or --no-input was given).',
      'not-interactive',
      "Give the payload with --data '{...}', --data-file FILE or --data - (standard input).",
    )
  }
  const {input, confirm} = await import('@inquirer/prompts')
  const ctx = {output: process.stderr}
  const ask = async (message: string, value?: string, required = false) => {
    try {
      const answer = await input({message, default: value, ...(required ? {required: true} : {})}, ctx)
      return answer.trim() === '' ? undefined : answer.trim()
    } catch {
      throw new UserError('Cancelled; nothing was sent.', {code: 'cancelled', exitCode: ExitCode.cancelled})
    }
  }
  const d = options.defaults
  const analysis = parseSubject(options.subject)
  const type = (await ask('type', d.type ?? defaultType(analysis, options.registry), true)) as string
  const result: EnvelopeInput = {
    ...d,
    type,
    subjectId: await ask(
      analysis.family === 'task' ? 'subject (the task id)' : 'subject (resource id)',
      d.subjectId,
      analysis.family === 'task',
    ),
    tenant: await ask('tenant_id', d.tenant),
    project: await ask('project_id', d.project),
    environment: await ask('environment_id', d.environment),
    datacenter: await ask('datacenter_id', d.datacenter),
    actor: (await ask('actor', d.actor, true)) ?? '',
    correlationId: await ask('correlation_id (empty: a new one)', d.correlationId),
    causationId: await ask('causation_id (empty: none)', d.causationId),
  }
  const version = d.dataschema ? (parseDataschema(d.dataschema)?.version ?? 1) : 1
  const entry = options.registry.get(type, version)
  if (!entry) {
    const text = (await ask(`payload for ${type} (no registered schema): a JSON object`, '{}', true)) ?? '{}'
    result.data = parseOrText(text)
    return result
  }
  const {z} = await import('zod')
  const schema = z.toJSONSchema(entry.schema, {io: 'input', unrepresentable: 'any'}) as JsonSchemaObject
  const required = new Set(schema.required ?? [])
  const fields = Object.entries(schema.properties ?? {}).sort(
    ([a], [b]) => Number(required.has(b)) - Number(required.has(a)),
  )
  const data: Record<string, unknown> = {}
  for (const [name, prop] of fields) {
    const kind = Array.isArray(prop.type) ? prop.type.join('|') : (prop.type ?? 'json')
    const choices = prop.enum ? ` one of ${prop.enum.map((v) => JSON.stringify(v)).join(', ')}` : ''
    const label = `data.${name} (${kind}${choices}${required.has(name) ? ', required' : ''})`
    const answer = await ask(label, undefined, required.has(name))
    if (answer === undefined) continue
    data[name] = kind === 'string' ? answer : parseOrText(answer)
  }
  result.data = data
  let more: boolean
  try {
    more = await confirm({message: 'Add other payload fields as JSON?', default: false}, ctx)
  } catch {
    more = false
  }
  if (more) {
    const extra = parseOrText((await ask('extra fields (a JSON object)', '{}')) ?? '{}')
    if (extra && typeof extra === 'object' && !Array.isArray(extra)) Object.assign(data, extra)
  }
  return result
}

function parseOrText(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    return text
  }
}
