import {newEnvelope, validateEnvelope, type Envelope} from '../contract/envelope.js'
import {problem, type Problem} from '../contract/problems.js'
import type {PayloadRegistry} from '../contract/registry.js'
import {isService, type Service} from '../contract/services.js'
import {suggest} from '../suggest.js'
import {forbiddenPublishSubject, parseSubject, type SubjectAnalysis, type SubjectFamily} from '../contract/taxonomy.js'

/** The envelope fields a sender chooses (flags of `publish` and `request`); the rest is filled in. */
export interface EnvelopeInput {
  /** The NATS subject the message goes to. */
  subject: string
  /** The payload, already parsed from JSON (anything: validation says when it is not an object). */
  data: unknown
  type?: string
  /** The envelope `subject`: the resource within the emitting domain, the task id on task events. */
  subjectId?: string
  tenant?: string
  project?: string
  environment?: string
  datacenter?: string
  /** An empty string means "none": the validation then reports the missing actor. */
  actor?: string
  source?: string
  correlationId?: string
  causationId?: string
  dataschema?: string
  /** A chosen envelope id (re-publishing the same id tests de-duplication). */
  id?: string
  /** Fixed time (a message re-checked after connecting keeps its first time). */
  time?: string
}

export interface BuiltMessage {
  subject: string
  envelope: Record<string, unknown>
  problems: Problem[]
  warnings: Problem[]
}

/**
 * The default `type` of a message on `subject` (docs/contract.md, "`type` is `<service>.<entity>.<...>`"):
 * events and task events read it off the subject (`dv.maskin.evt.server.provisioned` ->
 * `maskin.server.provisioned`, `dv.task.evt.started` -> `task.started`); commands and RPCs use the one
 * registered schema of the form `<service>[.<entity>].<action words>.requested` when there is exactly one
 * (`dv.maskin.cmd.provision` -> `maskin.server.provision.requested`, `dv.rpc.identitet.introspect_token` ->
 * `identitet.token.introspect.requested`), else `<service>.<action>.requested`.
 */
export function defaultType(analysis: SubjectAnalysis, registry: PayloadRegistry): string | undefined {
  if (!analysis.valid || !analysis.service) {
    if (analysis.family === 'task' && analysis.verb) return `task.${analysis.verb}`
    return undefined
  }
  if (analysis.family === 'evt') return `${analysis.service}.${analysis.entity}.${analysis.verb}`
  const action = analysis.family === 'cmd' ? analysis.action : analysis.operation
  if (!action) return undefined
  const words = action.split('_')
  const candidates = registry
    .list()
    .map((e) => e.type)
    .filter((type, i, all) => all.indexOf(type) === i)
    .filter((type) => {
      const tokens = type.split('.')
      if (tokens[0] !== analysis.service || tokens.at(-1) !== 'requested') return false
      const middle = tokens.slice(1, -1)
      return words.every((w) => middle.includes(w)) && middle.length <= words.length + 1
    })
  return candidates.length === 1 ? candidates[0] : `${analysis.service}.${action}.requested`
}

/**
 * The default `source` (README: `sentral` unless given): events are emitted by the service that
 * owns them, so an event on `dv.<service>.evt.*` defaults to that service.
 */
export function defaultSource(analysis: SubjectAnalysis): Service {
  if (analysis.family === 'evt' && analysis.service && isService(analysis.service)) return analysis.service
  return 'sentral'
}

export interface BuildOptions {
  registry: PayloadRegistry
  /** Subject families this command may send to (`publish`: cmd, evt, task; `request`: rpc). */
  families: SubjectFamily[]
  /** Where to send the others instead, for the problem message. */
  otherCommand: string
  /** The server's max_payload in bytes, when connected. */
  maxPayload?: number
  /** `--strict`: a message whose type has no registered schema is refused, not only warned about. */
  strict?: boolean
}

/**
 * Builds the envelope from the sender's fields and checks subject, envelope and payload schema (everything is
 * validated before anything is sent). Never throws: problems are values.
 */
export function buildMessage(input: EnvelopeInput, options: BuildOptions): BuiltMessage {
  const problems: Problem[] = []
  const forbidden = forbiddenPublishSubject(input.subject)
  const analysis = parseSubject(input.subject)
  if (forbidden) problems.push(forbidden)
  else if (analysis.valid && analysis.family && !options.families.includes(analysis.family)) {
    problems.push(
      problem(
        'subject',
        'forbidden-subject',
        `${input.subject} is a ${analysis.family} subject; this command sends ${options.families.join(', ')} subjects. Use ${options.otherCommand}.`,
      ),
    )
  }
  const type = input.type ?? defaultType(analysis, options.registry) ?? ''
  const envelope = stripUndefined(
    newEnvelope({
      id: input.id,
      time: input.time,
      type,
      source: (input.source ?? defaultSource(analysis)) as Service,
      subject: input.subjectId,
      dataschema: input.dataschema,
      tenant_id: input.tenant,
      project_id: input.project,
      environment_id: input.environment,
      datacenter_id: input.datacenter,
      actor: input.actor === '' ? (undefined as unknown as string) : (input.actor as string),
      correlation_id: input.correlationId ?? '',
      causation_id: input.causationId,
      data: input.data as Envelope['data'],
    }),
  )
  if (!input.correlationId) envelope.correlation_id = envelope.id
  if (type === '') delete envelope.type
  const check = validateEnvelope(envelope, {
    subject: input.subject,
    registry: options.registry,
    maxPayload: options.maxPayload,
  })
  // The subject's own problems come once, from whichever check found them first.
  const seen = new Set(problems.map((p) => `${p.path}|${p.code}|${p.message}`))
  for (const p of check.problems) if (!seen.has(`${p.path}|${p.code}|${p.message}`)) problems.push(p)
  const warnings = [...check.warnings]
  const unchecked = problems.length === 0 ? unknownType(input.subject, analysis, type, options) : undefined
  if (unchecked) (options.strict ? problems : warnings).push(unchecked)
  return {subject: input.subject, envelope, problems, warnings}
}

/**
 * A type no schema is registered for (`dv.maskin.cmd.provison`, a typo of provision): its payload cannot be
 * checked, and most often the subject is misspelt. The problem names the nearest subjects that have a schema.
 * Task events are left out: every task verb has a payload schema, and the taxonomy reports unknown verbs.
 */
function unknownType(
  subject: string,
  analysis: SubjectAnalysis,
  type: string,
  options: BuildOptions,
): Problem | undefined {
  if (!analysis.valid || analysis.family === 'task' || type === '') return undefined
  if (options.registry.versions(type).length > 0) return undefined
  const near = suggest(subject, knownSubjects(options.registry, options.families))
  const advice = near.length
    ? ` Did you mean ${near.join(', or ')}?`
    : ' dvctl contract schemas lists the types that have one.'
  return problem(
    '$.type',
    'no-schema',
    `No payload schema is registered for type ${type}; the payload was not checked.${advice}`,
  )
}

/**
 * The subjects of the families given whose default type has a registered schema: events and task events
 * read off their type, commands and RPCs whose action words lead back to it through defaultType
 * (`maskin.server.provision.requested` -> `dv.maskin.cmd.provision`).
 */
export function knownSubjects(registry: PayloadRegistry, families: readonly SubjectFamily[]): string[] {
  const subjects = new Set<string>()
  const add = (subject: string, type: string) => {
    const analysis = parseSubject(subject)
    if (!analysis.valid || !analysis.family || !families.includes(analysis.family)) return
    if (defaultType(analysis, registry) === type) subjects.add(subject)
  }
  for (const {type} of registry.list()) {
    const tokens = type.split('.')
    const [service, ...rest] = tokens
    if (service === 'task') {
      add(`dv.task.evt.${rest.join('.')}`, type)
    } else if (tokens.at(-1) === 'requested') {
      const middle = rest.slice(0, -1)
      // The action with the entity left out, the whole of it, or the entity last (`introspect_token`).
      const actions = [middle.slice(1), middle, [...middle.slice(1), middle[0]]].filter((a) => a.length > 0)
      for (const action of actions) {
        add(`dv.${service}.cmd.${action.join('_')}`, type)
        add(`dv.rpc.${service}.${action.join('_')}`, type)
      }
    } else if (rest.length === 2) {
      add(`dv.${service}.evt.${rest.join('.')}`, type)
    }
  }
  return [...subjects].sort()
}

function stripUndefined(envelope: Envelope): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(envelope)) if (value !== undefined) out[key] = value
  return out
}
