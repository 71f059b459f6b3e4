import {z} from 'zod'

import {stripUrlCredentials} from '../config/url.js'
import {REPLAY_HEADERS} from '../dlq/replay.js'
import {ORIGIN, ORIGIN_HEADER} from '../publish/publish.js'
import {validateEnvelope} from './envelope.js'
import {TaskEventData} from './lifecycle.js'
import {formatDataschema, type PayloadRegistry, type PayloadSchema} from './registry.js'
import {envelopeJsonSchema, payloadJsonSchemas} from './schemas.js'
import {isService, SERVICES, TASK_VERBS} from './services.js'
import {parseSubject, type SubjectFamily} from './taxonomy.js'

/**
 * `contract export` (docs/contract.md, "Publishing the contract"): the contract as documents other tools read.
 * Both are made from the schemas the validator uses (`envelopeJsonSchema`, `payloadJsonSchemas`: the zod
 * schemas of the envelope and the built-ins, team files as written), so nothing is written down twice:
 *
 * - an AsyncAPI 3.0 document: servers from the configured sites, one channel per subject family (with its
 *   parameters) and per subject the registry knows, send and receive operations (request and reply for
 *   RPC), and one message per registered payload version: NATS headers, and the envelope carrying that
 *   payload as the body, with an example dvctl's validator accepts;
 * - a JSON Schema bundle (draft 2020-12): one document that validates a whole message, envelope and
 *   payload (chosen by type and dataschema), the schemas in its `$defs`.
 */

import {EXPORT_FORMATS, type ExportFormat} from './export-formats.js'

export {EXPORT_FORMATS, type ExportFormat} from './export-formats.js'

/** `contract export --out DIR --json`: what was written. */
export const ContractExportFiles = z.object({
  format: z.enum(EXPORT_FORMATS),
  out: z.string(),
  files: z.array(z.string()),
})
export type ContractExportFiles = z.infer<typeof ContractExportFiles>

/** A configured site as the export sees it. */
export interface ExportSite {
  name: string
  servers: string[]
  js_domain?: string
  description?: string
}

/** A payload version and where it travels. */
interface Placed {
  entry: PayloadSchema
  /** Its key in components and channels: `maskin.server.provisioned.v1`. */
  key: string
  family: SubjectFamily
  reply: boolean
  /** The concrete subject, when the registry knows it. */
  subject?: string
}

/** The family channels of the ADR ("Subject taxonomy"), keyed as in the document. */
const FAMILY_CHANNEL: Record<SubjectFamily, {key: string; address: string; title: string; description: string}> = {
  cmd: {
    key: 'command',
    address: 'dv.{service}.cmd.{action}',
    title: 'Commands',
    description:
      'Desired work addressed to one service and handled by its consumer group. Durable (stored in DV_CMD), idempotent, with correlation and actor metadata (ADR "Commands").',
  },
  evt: {
    key: 'event',
    address: 'dv.{service}.evt.{entity}.{verb}',
    title: 'Domain events',
    description:
      'Immutable facts about something that happened inside a service domain, emitted by that service (stored in DV_EVT; ADR "Events").',
  },
  task: {
    key: 'taskEvent',
    address: 'dv.task.evt.{verb}',
    title: 'Task lifecycle events',
    description:
      'The lifecycle of long-running work: created, queued, started, progress, then succeeded, failed or cancelled. The envelope subject is the task id (stored in DV_TASK; ADR "Task events").',
  },
  rpc: {
    key: 'rpc',
    address: 'dv.rpc.{service}.{operation}',
    title: 'RPC requests',
    description:
      'Narrow synchronous request/reply on core NATS (not stored); the reply goes to the requester\'s inbox (ADR "RPC").',
  },
}
const REPLY_CHANNEL = 'rpcReply'

const PARAMETERS = {
  service: {
    enum: [...SERVICES],
    description: 'A Dataverket service (ADR "Naming guidance"); task and rpc are reserved.',
  },
  action: {description: 'What the command asks for: one token, [a-z][a-z0-9_]*.', examples: ['provision', 'apply']},
  entity: {description: 'The entity the event is about: one token, [a-z][a-z0-9_]*.', examples: ['server', 'cluster']},
  eventVerb: {description: 'What happened to it: one token, [a-z][a-z0-9_]*.', examples: ['provisioned', 'ready']},
  taskVerb: {
    description: `A task lifecycle verb: at least ${TASK_VERBS.join(', ')}; any other token is a warning.`,
    examples: [...TASK_VERBS],
  },
  operation: {description: 'The RPC operation: one token, [a-z][a-z0-9_]*.', examples: ['introspect_token']},
}

const FAMILY_PARAMETERS: Record<SubjectFamily, Record<string, unknown>> = {
  cmd: {service: PARAMETERS.service, action: PARAMETERS.action},
  evt: {service: PARAMETERS.service, entity: PARAMETERS.entity, verb: PARAMETERS.eventVerb},
  task: {verb: PARAMETERS.taskVerb},
  rpc: {service: PARAMETERS.service, operation: PARAMETERS.operation},
}

/** Example messages: a fixed time and ids, so the export is the same every time. */
const EXAMPLE_TIME = '2026-03-14T09:30:00Z'

function messageKey(entry: PayloadSchema): string {
  return `${entry.type}.v${entry.version}`
}

/**
 * Where each payload version travels. A built-in names its subject; a team type is placed by its name
 * (docs/contract.md): `task.<verb>` on dv.task.evt.<verb>, `*.replied` as an RPC reply, `*.requested` as a
 * command, anything else as an event.
 */
function place(entry: PayloadSchema): Placed {
  const key = messageKey(entry)
  const analysis = entry.subject ? parseSubject(entry.subject) : undefined
  if (analysis?.valid && analysis.family) {
    return {entry, key, family: analysis.family, reply: Boolean(entry.reply), subject: entry.subject}
  }
  const tokens = entry.type.split('.')
  if (tokens[0] === 'task') {
    const subject = `dv.task.evt.${tokens.slice(1).join('_')}`
    return {entry, key, family: 'task', reply: false, ...(parseSubject(subject).valid ? {subject} : {})}
  }
  if (tokens.at(-1) === 'replied') return {entry, key, family: 'rpc', reply: true}
  return {entry, key, family: tokens.at(-1) === 'requested' ? 'cmd' : 'evt', reply: false}
}

/** A schema embedded in a larger document: its own `$schema` and `$id` dropped, its `#` references moved under `at`. */
export function embedSchema(schema: Record<string, unknown>, at: string): Record<string, unknown> {
  const {$schema: _schema, $id: _id, ...rest} = schema
  return rebase(rest, at) as Record<string, unknown>
}

function rebase(value: unknown, at: string): unknown {
  if (Array.isArray(value)) return value.map((v) => rebase(v, at))
  if (!value || typeof value !== 'object') return value
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    out[k] = k === '$ref' && typeof v === 'string' && v.startsWith('#') ? at + v.slice(1) : rebase(v, at)
  }
  return out
}

/** A payload that satisfies the schema: the built-in's own, or a team file's first `examples` entry. */
function examplePayload(entry: PayloadSchema): Record<string, unknown> | undefined {
  if (entry.example) return entry.example
  const examples = entry.jsonSchema?.examples
  const first = Array.isArray(examples) ? examples[0] : undefined
  return first && typeof first === 'object' && !Array.isArray(first) ? (first as Record<string, unknown>) : undefined
}

/**
 * A whole example message for a payload version: the envelope as dvctl's validator wants it on the subject
 * (advisory rules included), or undefined when the payload has no example or the message would not pass.
 */
export function exampleMessage(placed: Placed, registry: PayloadRegistry): Record<string, unknown> | undefined {
  const data = examplePayload(placed.entry)
  if (!data) return undefined
  const {type, version} = placed.entry
  const head = type.split('.')[0]
  const caused = placed.family === 'evt' || placed.family === 'task' || placed.reply
  // Commands and requests come from the orchestrator; events and replies from the service named in their type.
  const source = placed.family === 'task' ? 'maskin' : caused && isService(head) ? head : 'sentral'
  const taskId = typeof data.task_id === 'string' ? data.task_id : 'task-0001'
  const envelope: Record<string, unknown> = {
    specversion: '1.0',
    id: `example-${placed.key}`,
    type,
    source,
    ...(placed.family === 'task' ? {subject: taskId} : {}),
    time: EXAMPLE_TIME,
    datacontenttype: 'application/json',
    ...(version > 1 ? {dataschema: formatDataschema(type, version)} : {}),
    actor: 'user:lars.solem',
    correlation_id: 'wf-7f3a',
    ...(caused ? {causation_id: 'example-cause'} : {}),
    datacenter_id: 'osl1',
    data,
  }
  const subject = placed.reply ? undefined : placed.subject
  const check = validateEnvelope(envelope, {subject, registry, advisory: true})
  return check.valid && check.warnings.length === 0 ? envelope : undefined
}

/** The NATS headers of a message (docs/contract.md, "Headers dvctl sets"); the envelope is the body. */
function headersSchema(): Record<string, unknown> {
  return {
    type: 'object',
    description: 'NATS message headers. The envelope is the JSON body; these travel beside it.',
    properties: {
      'Nats-Msg-Id': {
        type: 'string',
        description:
          "The envelope id (or, on a replayed copy, the replay id): JetStream drops a re-send within the stream's duplicate window.",
      },
      [ORIGIN_HEADER]: {type: 'string', const: ORIGIN, description: 'Test traffic sent by a person with dvctl.'},
      [REPLAY_HEADERS.of]: {type: 'string', description: '<stream>:<seq> of the dead letter this copy replays.'},
      [REPLAY_HEADERS.id]: {type: 'string', description: 'The deterministic replay id, also recorded in the ledger.'},
      [REPLAY_HEADERS.by]: {type: 'string', description: "The operator's actor who replayed it."},
    },
  }
}

/** The envelope carrying one payload version: the envelope schema, this type and dataschema, this data. */
function messagePayload(placed: Placed, envelopeRef: string, payloadRef: string): Record<string, unknown> {
  const {type, version} = placed.entry
  return {
    allOf: [
      {$ref: envelopeRef},
      {
        type: 'object',
        required: version > 1 ? ['type', 'dataschema'] : ['type'],
        properties: {
          type: {const: type},
          dataschema: {
            const: formatDataschema(type, version),
            ...(version === 1 ? {description: 'May be left out: absent means v1.'} : {}),
          },
          data: {$ref: payloadRef},
        },
      },
    ],
  }
}

/** The AsyncAPI servers of the configured sites: host and port only, never the credentials a URL carries. */
function servers(sites: readonly ExportSite[]): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const site of sites) {
    site.servers.forEach((url, i) => {
      let parsed: URL
      try {
        parsed = new URL(stripUrlCredentials(url))
      } catch {
        return
      }
      if (!parsed.host) return
      const scheme = parsed.protocol.replace(/:$/, '')
      const notes = [
        `Site ${site.name} (datacenter_id ${site.name})`,
        site.js_domain ? `JetStream domain ${site.js_domain}` : undefined,
        scheme === 'tls' ? 'TLS' : undefined,
      ].filter(Boolean)
      const text = site.description ? `${notes.join(', ')}: ${stripUrlCredentials(site.description)}` : notes.join(', ')
      out[i === 0 ? site.name : `${site.name}-${i + 1}`] = {
        host: parsed.host,
        protocol: scheme === 'ws' || scheme === 'wss' ? scheme : 'nats',
        description: `${text}.`,
        tags: [{name: `site:${site.name}`}],
      }
    })
  }
  return out
}

export interface AsyncApiOptions {
  registry: PayloadRegistry
  sites?: readonly ExportSite[]
}

/** The AsyncAPI 3.0 document of the contract (see the top of this file). */
export function asyncApiDocument(options: AsyncApiOptions): Record<string, unknown> {
  const {registry} = options
  const placed = registry.list().map(place)
  const envelopeRef = '#/components/schemas/envelope'

  const schemas: Record<string, unknown> = {
    envelope: embedSchema(envelopeJsonSchema(), envelopeRef),
    headers: headersSchema(),
  }
  const messages: Record<string, unknown> = {}
  // The same order as registry.list(), which `placed` follows.
  const payloads = payloadJsonSchemas(registry)
  for (const [i, p] of placed.entries()) {
    const payload = payloads[i].json_schema
    const ref = `#/components/schemas/${p.key}`
    schemas[p.key] = embedSchema(payload, ref)
    const example = exampleMessage(p, registry)
    messages[p.key] = {
      name: p.entry.type,
      title: `${p.entry.type} v${p.entry.version}`,
      ...(p.entry.description ? {summary: p.entry.description} : {}),
      contentType: 'application/json',
      correlationId: {
        description: 'Shared by every message of one workflow (ADR "Reliability model").',
        location: '$message.payload#/correlation_id',
      },
      headers: {$ref: '#/components/schemas/headers'},
      payload: messagePayload(p, envelopeRef, ref),
      ...(example
        ? {
            examples: [
              {
                name: 'example',
                summary: `A ${p.entry.type} message`,
                headers: {'Nats-Msg-Id': example.id},
                payload: example,
              },
            ],
          }
        : {}),
    }
  }

  const channels: Record<string, Record<string, unknown>> = {}
  const operations: Record<string, unknown> = {}
  const messageRefs = (list: Placed[]) =>
    Object.fromEntries(list.map((p) => [p.key, {$ref: `#/components/messages/${p.key}`}]))
  const opRefs = (channel: string, list: Placed[]) =>
    list.map((p) => ({$ref: `#/channels/${channel}/messages/${p.key}`}))

  const replies = placed.filter((p) => p.reply)
  channels[REPLY_CHANNEL] = {
    address: null,
    title: 'RPC replies',
    description: "The requester's inbox (_INBOX.>), named by the NATS reply subject of the request.",
    messages: messageRefs(replies),
  }
  for (const family of ['cmd', 'evt', 'task', 'rpc'] as const) {
    const {key, address, title, description} = FAMILY_CHANNEL[family]
    const list = placed.filter((p) => p.family === family && !p.reply)
    channels[key] = {address, title, description, parameters: FAMILY_PARAMETERS[family], messages: messageRefs(list)}
    const name = key.charAt(0).toUpperCase() + key.slice(1)
    if (family === 'rpc') {
      const reply = {channel: {$ref: `#/channels/${REPLY_CHANNEL}`}, messages: opRefs(REPLY_CHANNEL, replies)}
      operations.requestRpc = {
        action: 'send',
        channel: {$ref: `#/channels/${key}`},
        title: 'Send an RPC request and await its reply',
        messages: opRefs(key, list),
        reply,
      }
      operations.answerRpc = {
        action: 'receive',
        channel: {$ref: `#/channels/${key}`},
        title: 'Answer RPC requests',
        messages: opRefs(key, list),
        reply,
      }
    } else {
      operations[`send${name}`] = {
        action: 'send',
        channel: {$ref: `#/channels/${key}`},
        title: `Publish ${title.toLowerCase()}`,
        messages: opRefs(key, list),
      }
      operations[`receive${name}`] = {
        action: 'receive',
        channel: {$ref: `#/channels/${key}`},
        title: `Consume ${title.toLowerCase()}`,
        messages: opRefs(key, list),
      }
    }
  }

  // One channel per subject the registry knows, with its own operations: what code generators bind to.
  const bySubject = new Map<string, Placed[]>()
  for (const p of placed) if (p.subject && !p.reply) bySubject.set(p.subject, [...(bySubject.get(p.subject) ?? []), p])
  for (const [subject, list] of bySubject) {
    const id = subject.replaceAll('.', '_')
    channels[subject] = {address: subject, title: subject, messages: messageRefs(list)}
    const channel = {$ref: `#/channels/${subject}`}
    if (list[0].family === 'rpc') {
      const own = replies.filter((r) => r.subject === subject)
      const reply = {channel: {$ref: `#/channels/${REPLY_CHANNEL}`}, messages: opRefs(REPLY_CHANNEL, own)}
      operations[`request_${id}`] = {action: 'send', channel, messages: opRefs(subject, list), reply}
      operations[`answer_${id}`] = {action: 'receive', channel, messages: opRefs(subject, list), reply}
    } else {
      operations[`send_${id}`] = {action: 'send', channel, messages: opRefs(subject, list)}
      operations[`receive_${id}`] = {action: 'receive', channel, messages: opRefs(subject, list)}
    }
  }

  const serverMap = servers(options.sites ?? [])
  return {
    asyncapi: '3.0.0',
    info: {
      title: 'Dataverket NATS control plane',
      version: '1.0.0',
      description:
        'The subject taxonomy, message envelope (specversion 1.0) and payload schemas of the Dataverket NATS contract, as dvctl checks them. Envelopes are CloudEvents-like JSON bodies; payloads are versioned by dataschema (<type>/v<N>, absent means v1). Internal control-plane contract, not a public integration surface.',
    },
    ...(Object.keys(serverMap).length ? {servers: serverMap} : {}),
    defaultContentType: 'application/json',
    channels,
    operations,
    components: {schemas, messages},
  }
}

/**
 * The JSON Schema bundle (draft 2020-12): the envelope and every payload version in `$defs`, and at the root
 * the envelope plus, for each type and version, "if this is the message, its data is that payload", so one
 * schema validates a whole message as dvctl does (the rules beyond JSON Schema are in the envelope's
 * `$comment`). A `task.<verb>` with no schema of its own carries task data, as the validator falls back to.
 */
export function jsonSchemaBundle(registry: PayloadRegistry): Record<string, unknown> {
  const defs: Record<string, unknown> = {envelope: embedSchema(envelopeJsonSchema(), '#/$defs/envelope')}
  const clauses: unknown[] = []
  const taskTypes = new Set<string>()
  for (const p of payloadJsonSchemas(registry)) {
    const key = `${p.type}.v${p.version}`
    defs[key] = {title: p.dataschema, ...embedSchema(p.json_schema, `#/$defs/${key}`)}
    if (p.type.startsWith('task.')) taskTypes.add(p.type)
    clauses.push({
      if: {
        required: p.version > 1 ? ['type', 'dataschema'] : ['type'],
        properties: {type: {const: p.type}, dataschema: {const: p.dataschema}},
      },
      then: {properties: {data: {$ref: `#/$defs/${key}`}}},
    })
  }
  defs['task-event-data'] = embedSchema(
    z.toJSONSchema(TaskEventData, {io: 'input', unrepresentable: 'any'}) as Record<string, unknown>,
    '#/$defs/task-event-data',
  )
  clauses.push({
    if: {required: ['type'], properties: {type: {pattern: '^task\\.', not: {enum: [...taskTypes]}}}},
    then: {properties: {data: {$ref: '#/$defs/task-event-data'}}},
  })
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    $id: 'dataverket/contract/v1',
    title: 'Dataverket NATS message (envelope and payload)',
    description:
      'A whole message: the envelope, and the payload schema registered for its type and dataschema (absent means v1). A type or version with no schema registered is checked as an envelope only.',
    allOf: [{$ref: '#/$defs/envelope'}, ...clauses],
    $defs: defs,
  }
}

/**
 * Writes an export into `dir` (made if missing) and returns the files written: `asyncapi.json`; or the
 * bundle `dataverket-contract.schema.json`, the envelope `envelope.v1.schema.json` and each payload version
 * as `payloads/<type>.v<N>.json` exactly as `contract schemas --json-schema` shows it (a directory that
 * `--schemas` reads back). A file that cannot be written is a user error naming it.
 */
export async function writeExport(
  dir: string,
  format: ExportFormat,
  document: Record<string, unknown>,
  registry: PayloadRegistry,
): Promise<string[]> {
  const {mkdir, writeFile} = await import('node:fs/promises')
  const {join} = await import('node:path')
  const {usageError} = await import('../errors.js')
  const files: Array<[string, unknown]> =
    format === 'asyncapi'
      ? [[join(dir, 'asyncapi.json'), document]]
      : [
          [join(dir, 'dataverket-contract.schema.json'), document],
          [join(dir, 'envelope.v1.schema.json'), envelopeJsonSchema()],
          ...payloadJsonSchemas(registry).map((p): [string, unknown] => [
            join(dir, 'payloads', `${p.type}.v${p.version}.json`),
            p.json_schema,
          ]),
        ]
  const written: string[] = []
  for (const [file, value] of files) {
    try {
      await mkdir(join(file, '..'), {recursive: true})
      await writeFile(file, JSON.stringify(value, null, 2) + '\n')
    } catch (error) {
      throw usageError(
        `Cannot write ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}.`,
        'unwritable-file',
        'Give --out a directory you can write to.',
      )
    }
    written.push(file)
  }
  return written
}
