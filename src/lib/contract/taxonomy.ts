import {problem, type Problem, type ProblemCode} from './problems.js'
import {isService, isTaskVerb, RESERVED, SERVICES, TASK_VERBS} from './services.js'
import type {SubjectAnalysis} from './subject-schema.js'

/**
 * The subject taxonomy of the ADR ("Subject taxonomy"), made precise in docs/contract.md:
 *
 *   dv.<service>.cmd.<action>          4 tokens
 *   dv.<service>.evt.<entity>.<verb>   5 tokens
 *   dv.task.evt.<verb>                 4 tokens
 *   dv.rpc.<service>.<operation>       4 tokens
 *
 * Tokens are `[a-z][a-z0-9_]*`; `task` and `rpc` are reserved; wildcards only in filters.
 */
export const SUBJECT_PREFIX = 'dv'

export const SUBJECT_FAMILIES = ['cmd', 'evt', 'task', 'rpc'] as const
export type SubjectFamily = (typeof SUBJECT_FAMILIES)[number]

/** Token count of each family's concrete subjects. */
export const FAMILY_TOKEN_COUNT: Record<SubjectFamily, number> = {cmd: 4, evt: 5, task: 4, rpc: 4}

const FAMILY_SHAPE: Record<SubjectFamily, string> = {
  cmd: 'dv.<service>.cmd.<action>',
  evt: 'dv.<service>.evt.<entity>.<verb>',
  task: 'dv.task.evt.<verb>',
  rpc: 'dv.rpc.<service>.<operation>',
}

/** One token of a subject, and of a message type (docs/contract.md). */
export const TOKEN_SOURCE = '[a-z][a-z0-9_]*'
/** A message type: two or more tokens joined by dots (`maskin.server.provisioned`, `task.failed`). */
export const MESSAGE_TYPE_SOURCE = `${TOKEN_SOURCE}(?:\\.${TOKEN_SOURCE})+`
export const TOKEN = new RegExp(`^${TOKEN_SOURCE}$`)
export const MESSAGE_TYPE = new RegExp(`^${MESSAGE_TYPE_SOURCE}$`)

/** What parseSubject says about a subject (its zod schema, for tests and docs, is in subject-schema.ts). */
export type {SubjectAnalysis} from './subject-schema.js'

export interface ParseSubjectOptions {
  /** Unknown task verbs become errors instead of warnings (`--strict`). */
  strict?: boolean
  /** Accept `*` and `>` as a subscription filter would (`--filter`); their placement is still checked. */
  allowWildcards?: boolean
}

const isWildcard = (token: string) => token === '*' || token === '>'

/**
 * Checks one subject (or, with allowWildcards, one filter) against the taxonomy. Never throws: everything
 * wrong comes back in `problems` (the subject is invalid) or `warnings` (it is valid but suspicious).
 */
export function parseSubject(subject: string, opts: ParseSubjectOptions = {}): SubjectAnalysis {
  const r = analyse(subject, opts)
  // Stable key order for people reading the JSON: identity, verdict, parts, then the findings.
  const parts = Object.fromEntries(PART_KEYS.filter((k) => r[k] !== undefined).map((k) => [k, r[k]]))
  return {
    subject: r.subject,
    valid: r.problems.length === 0,
    family: r.family,
    service: r.service,
    ...parts,
    ...(r.filter ? {filter: true} : {}),
    problems: r.problems,
    warnings: r.warnings,
  }
}

const PART_KEYS = ['action', 'entity', 'verb', 'operation'] as const

function analyse(subject: string, opts: ParseSubjectOptions): SubjectAnalysis {
  const problems: Problem[] = []
  const warnings: Problem[] = []
  const result: SubjectAnalysis = {subject, valid: false, family: null, service: null, problems, warnings}
  const fail = (code: ProblemCode, message: string) => {
    problems.push(problem('subject', code, message))
    return result
  }

  if (subject.length === 0) return fail('empty-subject', 'The subject is empty.')
  if (/\s/.test(subject)) return fail('bad-token', 'A subject cannot contain whitespace.')

  const tokens = subject.split('.')
  const hasWildcard = tokens.some(isWildcard)
  if (hasWildcard) result.filter = true

  // Outside `dv.` nothing else is worth saying (`$JS.API.…`, `maskin.cmd.x`, `DV.…`).
  if (tokens[0] !== '' && tokens[0] !== SUBJECT_PREFIX && !isWildcard(tokens[0])) {
    const hint = tokens[0].toLowerCase() === SUBJECT_PREFIX ? ' (the prefix is lower case)' : ''
    const shown = tokens.length > 1 ? `"${tokens[0]}."` : `"${tokens[0]}"`
    return fail('missing-prefix', `Dataverket subjects start with "dv."; this one starts with ${shown}${hint}.`)
  }

  // Token-level checks first: an empty token, a bad character or a misplaced wildcard makes the rest moot.
  tokens.forEach((token, i) => {
    const where = `token ${i + 1}`
    if (token === '') {
      problems.push(
        problem(
          'subject',
          'empty-token',
          `The subject has an empty ${where} (two dots in a row, or a leading or trailing dot).`,
        ),
      )
    } else if (isWildcard(token)) {
      if (!opts.allowWildcards) {
        problems.push(
          problem(
            'subject',
            'wildcard-not-allowed',
            `Wildcard "${token}" (${where}) is only allowed in a filter, not in a concrete subject.`,
          ),
        )
      } else if (token === '>' && i !== tokens.length - 1) {
        problems.push(
          problem('subject', 'bad-wildcard', `">" must be the last token; here it is ${where} of ${tokens.length}.`),
        )
      }
    } else if (/[*>]/.test(token)) {
      problems.push(
        problem(
          'subject',
          'bad-token',
          `Token "${token}" (${where}) mixes a wildcard with other characters; a wildcard must be a whole token.`,
        ),
      )
    } else if (!TOKEN.test(token)) {
      const hint = /[A-Z]/.test(token)
        ? ' (upper case is not allowed)'
        : token.includes('-')
          ? ' (use "_" instead of "-")'
          : ''
      problems.push(problem('subject', 'bad-token', `Token "${token}" (${where}) must match [a-z][a-z0-9_]*${hint}.`))
    }
  })
  if (problems.length > 0) return result

  if (tokens[0] !== SUBJECT_PREFIX) {
    if (tokens[0] === '*' || tokens[0] === '>')
      return fail(
        'missing-prefix',
        `Dataverket subjects start with "dv."; a filter starting with "${tokens[0]}" reaches outside the taxonomy.`,
      )
  }
  if (tokens.length === 1)
    return fail(
      'wrong-token-count',
      'The subject is only "dv"; see the four families: ' + Object.values(FAMILY_SHAPE).join(', ') + '.',
    )

  const second = tokens[1]
  // `dv.>` and `dv.*.>` match across families: a valid filter with no single family.
  if (second === '>') return finish(result)

  if (second === 'task') return parseTask(tokens, result, opts)
  if (second === 'rpc') return parseRpc(tokens, result)

  if (second !== '*' && !isService(second)) {
    problems.push(
      problem(
        'subject',
        'unknown-service',
        `"${second}" is not a Dataverket service; the services are ${SERVICES.join(', ')} (new ones need an ADR).`,
      ),
    )
  } else if (second !== '*') {
    result.service = second
  }

  const kind = tokens[2]
  if (kind === undefined)
    return fail(
      'wrong-token-count',
      `"${subject}" stops after the service; it needs ".cmd.<action>" or ".evt.<entity>.<verb>".`,
    )
  if (kind === '>') return finish(result)
  if (kind === 'cmd' || kind === 'evt') {
    result.family = kind
    if (!checkCount(tokens, kind, result)) return result
    if (kind === 'cmd') setIfLiteral(result, 'action', tokens[3])
    else {
      setIfLiteral(result, 'entity', tokens[3])
      setIfLiteral(result, 'verb', tokens[4])
    }
    return finish(result)
  }
  if (kind === '*') {
    // `dv.maskin.*.x` spans families; the count must fit one of them.
    if (tokens.length > 5 && tokens.at(-1) !== '>') {
      return fail('wrong-token-count', `"${subject}" has ${tokens.length} tokens; no family has more than 5.`)
    }
    return finish(result)
  }
  if ((RESERVED as readonly string[]).includes(kind)) {
    return fail(
      'reserved-service',
      `"${kind}" is a family of its own: use dv.${kind === 'task' ? 'task.evt.<verb>' : `rpc.${second}.<operation>`}, not dv.${second}.${kind}.…`,
    )
  }
  return fail(
    'unknown-family',
    `The third token must be "cmd" or "evt" (${FAMILY_SHAPE.cmd}, ${FAMILY_SHAPE.evt}); got "${kind}".`,
  )
}

function parseTask(tokens: string[], result: SubjectAnalysis, opts: ParseSubjectOptions): SubjectAnalysis {
  result.family = 'task'
  const kind = tokens[2]
  if (kind !== undefined && kind !== 'evt' && !isWildcard(kind)) {
    result.problems.push(
      problem(
        'subject',
        'reserved-service',
        `"task" is reserved for task lifecycle events (${FAMILY_SHAPE.task}); "dv.task.${kind}" is not allowed.`,
      ),
    )
    return result
  }
  if (!checkCount(tokens, 'task', result)) return result
  const verb = tokens[3]
  if (verb !== undefined && !isWildcard(verb)) {
    result.verb = verb
    if (!isTaskVerb(verb)) {
      const p = problem(
        'subject',
        'unknown-task-verb',
        `"${verb}" is not one of the task verbs (${TASK_VERBS.join(', ')}).`,
      )
      ;(opts.strict ? result.problems : result.warnings).push(p)
    }
  }
  return finish(result)
}

function parseRpc(tokens: string[], result: SubjectAnalysis): SubjectAnalysis {
  result.family = 'rpc'
  const service = tokens[2]
  if (service !== undefined && !isWildcard(service)) {
    if ((RESERVED as readonly string[]).includes(service) || service === 'cmd' || service === 'evt') {
      result.problems.push(
        problem(
          'subject',
          'reserved-service',
          `"${service}" cannot be an RPC service; the form is ${FAMILY_SHAPE.rpc}.`,
        ),
      )
      return result
    }
    if (!isService(service)) {
      result.problems.push(
        problem(
          'subject',
          'unknown-service',
          `"${service}" is not a Dataverket service; the services are ${SERVICES.join(', ')}.`,
        ),
      )
    } else {
      result.service = service
    }
  }
  if (!checkCount(tokens, 'rpc', result)) return result
  setIfLiteral(result, 'operation', tokens[3])
  return finish(result)
}

/** Concrete subjects have exactly the family's count; a filter ending in `>` may be shorter (it matches 1+ tokens). */
function checkCount(tokens: string[], family: SubjectFamily, result: SubjectAnalysis): boolean {
  const want = FAMILY_TOKEN_COUNT[family]
  const openEnded = tokens.at(-1) === '>'
  const ok = openEnded ? tokens.length <= want : tokens.length === want
  if (!ok) {
    result.problems.push(
      problem(
        'subject',
        'wrong-token-count',
        `"${result.subject}" has ${tokens.length} tokens; ${family} subjects have exactly ${want}: ${FAMILY_SHAPE[family]}.`,
      ),
    )
  }
  return ok
}

function setIfLiteral(
  result: SubjectAnalysis,
  key: 'action' | 'entity' | 'verb' | 'operation',
  token: string | undefined,
) {
  if (token !== undefined && !isWildcard(token)) result[key] = token
}

function finish(result: SubjectAnalysis): SubjectAnalysis {
  result.valid = result.problems.length === 0
  return result
}

/** True when `filter` is a subscription filter (wildcards allowed) that stays inside the taxonomy. */
export function isSubjectFilterInTaxonomy(filter: string): boolean {
  return parseSubject(filter, {allowWildcards: true}).valid
}

/** Prefixes owned by the server and the client library; dvctl never publishes onto them. */
export const FORBIDDEN_PUBLISH_PREFIXES = ['$JS.', '$SYS.', '$KV.', '$O.', '$MQTT.', '_INBOX.'] as const

/**
 * A problem when `subject` lies in the server's or a client's own namespace (JetStream API and
 * advisories, system account, KV and object stores, reply inboxes): publish and `replay --to` refuse these
 * before anything is sent. Undefined when the subject is not in a forbidden namespace.
 */
export function forbiddenPublishSubject(subject: string): Problem | undefined {
  const upper = subject.toUpperCase()
  const prefix = FORBIDDEN_PUBLISH_PREFIXES.find(
    (p) => upper.startsWith(p.toUpperCase()) || upper === p.slice(0, -1).toUpperCase(),
  )
  if (prefix === undefined) return undefined
  return problem(
    'subject',
    'forbidden-subject',
    `"${subject}" is in the reserved "${prefix.slice(0, -1)}" namespace; dvctl only publishes Dataverket subjects (dv.…).`,
  )
}
