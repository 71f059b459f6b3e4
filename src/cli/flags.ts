import {Flags} from '@oclif/core'

import {TYPE_PATTERN_HELP} from '../lib/contract/match.js'
import {GROUP_KEYS, parseGroupKey} from '../lib/dlq/group-key.js'
import {DEAD_LETTER_STATUSES} from '../lib/dlq/statuses.js'
import type {DeadLetterSelection} from '../lib/dlq/read.js'
import type {LetterFilter} from '../lib/dlq/select.js'
import {parseDuration} from '../lib/duration.js'
import {usageError} from '../lib/errors.js'
import type {ListOrder} from '../lib/render/listing.js'
import type {TaskFilter} from '../lib/tasks/watch.js'
import type {WorkflowFilter} from '../lib/workflow/list.js'
import {
  DEFAULT_MAX_WORKFLOWS,
  DEFAULT_STALLED_AFTER_MS,
  WORKFLOW_LIST_STATUSES,
  type WorkflowListStatus,
} from '../lib/workflow/list-options.js'

/**
 * The oclif flag definitions shared by several commands, and the mapping of their parsed values onto the
 * services' options. Services never see flags (docs/architecture.md, "Three layers"): a command maps them here.
 */

/**
 * A flag's default as --help shows it ('5s' for a default of 5000 ms), when it is the same every time. oclif
 * takes any function given as `defaultHelp` for help that changes, and loads the command's module on every
 * --help to run it; scripts/manifest.mjs marks flags with this help as static in oclif.manifest.json, so
 * --help reads the text from the manifest instead.
 */
export function constantHelp(text: string): (() => Promise<string>) & {constantHelp: string} {
  return Object.assign(async () => text, {constantHelp: text})
}

/** A duration flag (`500ms`, `30s`, `5m`, `1h`, `14d`), parsed to milliseconds. */
export const durationFlag = Flags.custom<number>({
  parse: async (input) => parseDuration(input),
  helpValue: '<duration>',
})

/**
 * `--all-sites` for commands that read (tail, workflow, task watch, dlq list, site check); the command passes
 * it to BaseCommand.connectMany as `{allSites}`. `--site` (repeatable) is global.
 */
export const allSitesFlag = Flags.boolean({
  summary: 'Read every site in the config, concurrently; an unreachable site is reported and skipped.',
  helpGroup: 'GLOBAL',
})

export const readFlags = {'all-sites': allSitesFlag}

/** The task filters shared by `task watch` and `task list` (README, "Commands"). */
export const taskFilterFlags = {
  correlation: Flags.string({
    summary: 'Only tasks of this workflow (correlation_id, or a unique prefix of 6+ characters).',
  }),
  task: Flags.string({summary: 'Only this task id (or a unique prefix of 6+ characters).'}),
  service: Flags.string({summary: 'Only tasks reported by this service (the envelope source).'}),
  tenant: Flags.string({summary: 'Only tasks of this tenant (tenant_id).'}),
  since: durationFlag({
    summary: 'How far back the history goes.',
    default: 24 * 3_600_000,
    defaultHelp: constantHelp('24h'),
  }),
}

export function taskFilterFromFlags(flags: {
  correlation?: string
  task?: string
  service?: string
  tenant?: string
}): TaskFilter {
  return {correlationId: flags.correlation, taskId: flags.task, service: flags.service, tenant: flags.tenant}
}

/**
 * `--wait-timeout`: how long a command waits for something to happen (tasks to end, a workflow to finish).
 * `--timeout` (global) bounds only connecting and each server request, never a wait.
 */
export function waitTimeoutFlag(summary: string, options: {dependsOn?: string[]} = {}) {
  return durationFlag({summary, ...options})
}

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
  summary:
    'Count dead letters per failure group (error, reason, type, service, consumer or tenant) instead of listing them; each group has a stable key.',
  options: [...GROUP_KEYS],
})

/**
 * The failure-group filters of `dlq replay`, `dlq discard` and `dlq list` (select.ts); on replay and discard
 * any filter selects like --all. `--failure-reason`, not `--reason`: replay and discard already take
 * `--reason` for why the operator acts (recorded in the ledger).
 */
export const groupFilterFlags = {
  group: Flags.string({
    summary: 'Only this failure group: a key from dlq list --group-by (e.g. error:quota-exceeded).',
    helpValue: 'KEY',
  }),
  error: Flags.string({
    summary: "Only dead letters whose failure has this code (the worker's error code).",
    helpValue: 'CODE',
  }),
  'failure-reason': Flags.string({
    summary: 'Only dead letters whose reason, term reason or failure message contains this text (any case).',
    helpValue: 'TEXT',
  }),
  service: Flags.string({summary: 'Only commands addressed to this service (dv.<service>.cmd.*).'}),
  correlation: Flags.string({summary: 'Only this workflow (correlation_id, or a prefix of 6+ characters).'}),
  until: durationFlag({summary: 'Only dead letters from before this long ago (e.g. 1h); with --since, a window.'}),
}

/** The parsed failure-group filters as the selection's filter (select.ts). */
export function groupFilterFrom(flags: {
  group?: string
  error?: string
  'failure-reason'?: string
  service?: string
  correlation?: string
  until?: number
}): LetterFilter {
  if (flags.correlation !== undefined && flags.correlation.length < 6)
    throw usageError('--correlation needs the whole id or a prefix of 6+ characters.', 'bad-correlation')
  if (flags.group !== undefined) parseGroupKey(flags.group)
  return {
    ...(flags.group ? {group: flags.group} : {}),
    ...(flags.error ? {error: flags.error} : {}),
    ...(flags['failure-reason'] ? {failureReason: flags['failure-reason']} : {}),
    ...(flags.service ? {service: flags.service} : {}),
    ...(flags.correlation ? {correlation: flags.correlation} : {}),
    ...(flags.until !== undefined ? {until: new Date(Date.now() - flags.until)} : {}),
  }
}

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

/**
 * `--schemas DIR`. Its environment fallback (DVCTL_SCHEMAS) is read by the command from its env, not by
 * oclif from process.env, so that a command run in-process sees only the env it was given.
 */
export const schemasFlag = Flags.directory({
  summary:
    'Directory of JSON Schema payload files (<type>.v<N>.json) added to the built-in ones (default: DVCTL_SCHEMAS, else the config "schemas").',
})

/** The envelope flags shared by `publish` and `request` (README, "Commands"). */
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
  schemas: schemasFlag,
}

/**
 * `--wide` for every command that prints a table: on a TTY every column and every cell whole, lines as long
 * as they need to be. Piped output is always complete, so it changes nothing there.
 */
export const wideFlag = Flags.boolean({
  summary: 'On a terminal, show every column and every cell whole instead of fitting the window.',
})

/**
 * The flags of a listing command (dlq list, dlq history, task list, site list, contract schemas): `--wide`,
 * `--limit N` and `--sort FIELD`, FIELD one of the listing's column names (checked by `listOrderFrom`).
 * `--sort` and `--limit` order and cut the command's result, so `--json` gets the same items as the table.
 */
export function listingFlags(fields: readonly string[]) {
  return {
    wide: wideFlag,
    limit: Flags.integer({
      summary: 'Show at most N items (after --sort); applies to --json too.',
      min: 1,
      helpValue: '<n>',
    }),
    sort: Flags.string({
      summary: `Order by a column: ${fields.join(', ')}; a leading "-" reverses it (e.g. -${fields[1] ?? fields[0]}). Applies to --json too.`,
      helpValue: '<field>',
    }),
  }
}

/** `--sort` and `--limit` for the service's result; an unknown field is a usage error naming the choices. */
export function listOrderFrom(flags: {sort?: string; limit?: number}, fields: readonly string[]): ListOrder {
  const order: ListOrder = flags.limit === undefined ? {} : {limit: flags.limit}
  if (flags.sort === undefined) return order
  const descending = flags.sort.startsWith('-')
  const field = descending ? flags.sort.slice(1) : flags.sort
  if (!fields.includes(field)) {
    throw usageError(
      `Cannot sort by "${flags.sort}": --sort takes one of ${fields.join(', ')}.`,
      'bad-sort',
      `Prefix the field with "-" to reverse the order, e.g. --sort -${fields[1] ?? fields[0]}.`,
    )
  }
  return {...order, sort: {field, descending}}
}

/** The window and filters shared by `workflow list` and `workflow count` (docs/operations.md, "Finding workflows"). */
export const workflowFilterFlags = {
  since: durationFlag({
    summary: 'How far back to read (default 24h; 0 reads everything).',
    defaultHelp: constantHelp('24h'),
  }),
  until: Flags.string({
    summary: 'Read up to this time: RFC 3339, or a duration back from now (e.g. 1h).',
    helpValue: '<time|duration>',
  }),
  status: Flags.string({
    summary:
      'Only workflows in this status (repeatable). Precedence: dead-lettered > failed > stalled > running > succeeded.',
    multiple: true,
    options: [...WORKFLOW_LIST_STATUSES, 'dead_lettered'],
  }),
  tenant: Flags.string({summary: 'Only workflows of this tenant (tenant_id).'}),
  service: Flags.string({
    summary: 'Only workflows the service took part in (addressed in a subject, or the envelope source).',
  }),
  type: Flags.string({
    summary: 'Only workflows whose root message has this type; * matches any run of characters (e.g. "maskin.*").',
  }),
  'stalled-after': durationFlag({
    summary: 'A task started and silent for longer than this makes its workflow stalled.',
    default: DEFAULT_STALLED_AFTER_MS,
    defaultHelp: constantHelp('15m'),
  }),
  'max-workflows': Flags.integer({
    summary: 'Track at most this many workflows (memory grows with each one); later ones are reported as not counted.',
    min: 1,
    default: DEFAULT_MAX_WORKFLOWS,
    helpValue: '<n>',
  }),
}

/** The service's filter from the parsed flags (`dead_lettered` is the same status as `dead-lettered`). */
export function workflowFilterFrom(flags: {
  status?: string[]
  tenant?: string
  service?: string
  type?: string
}): WorkflowFilter {
  return {
    ...(flags.status?.length
      ? {statuses: flags.status.map((s) => (s === 'dead_lettered' ? 'dead-lettered' : s) as WorkflowListStatus)}
      : {}),
    ...(flags.tenant !== undefined ? {tenant: flags.tenant} : {}),
    ...(flags.service !== undefined ? {service: flags.service} : {}),
    ...(flags.type !== undefined ? {type: flags.type} : {}),
  }
}

/**
 * What a dlq action (replay, discard, hold, release) acts on: named references, or every dead letter the
 * filters select (`--all`, `--group KEY` or any filter; default status pending). Never both.
 */
export function dlqTargets(
  refs: string[],
  flags: Parameters<typeof selectionFrom>[0] &
    Parameters<typeof groupFilterFrom>[0] & {all?: boolean; since?: number; stream?: string; consumer?: string},
): {refs: string[]; filter: LetterFilter} | {all: DeadLetterSelection; filter: LetterFilter} {
  const filter = groupFilterFrom(flags)
  const {status: _status, ...narrowing} = selectionFrom(flags)
  const filtered = Object.keys(narrowing).length > 0 || Object.keys(filter).length > 0
  if (refs.length && (flags.all || filtered))
    throw usageError(
      'Give dead-letter references, or select with --all, --group or filters; not both.',
      'refs-and-filters',
    )
  if (refs.length) return {refs, filter: {}}
  if (!flags.all && !filtered)
    throw usageError(
      'Nothing selected.',
      'nothing-selected',
      'Give references (dvctl dlq list shows them), --group KEY (dvctl dlq list --group-by error) or a filter; replay and discard also take --all.',
    )
  return {all: selectionFrom(flags), filter}
}
