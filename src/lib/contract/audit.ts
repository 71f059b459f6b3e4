import {z} from 'zod'

import {STREAMS} from '../layout/names.js'
import type {SiteConnection} from '../nats/connection.js'
import {connectionError} from '../nats/errors.js'
import type {SiteStatus} from '../nats/fanout.js'
import {drainStream, StreamMissing, type ScanWindow, type StoredMessage} from '../nats/reader.js'
import {SiteReport, siteReports, type SiteDrainOutcome} from '../nats/site-report.js'
import {compareText} from '../order.js'
import {AUDIT_RULES, type AuditRule} from './audit-rules.js'
import {decodeMessage} from './envelope.js'
import type {ProblemCode} from './problems.js'
import type {PayloadRegistry} from './registry.js'
import {TOKEN} from './taxonomy.js'

/**
 * `contract audit` (docs/contract.md, "Auditing live traffic"): how well the traffic stored on a site keeps
 * the contract, per emitting service and message type. Every message is judged by the one validator
 * (`decodeMessage`, with the advisory rules on); the audit only sorts its problem codes into rules and counts
 * them. Memory holds counters and two references per rule and group, never messages.
 */

export {AUDIT_RULE_HELP, AUDIT_RULES, type AuditRule} from './audit-rules.js'

/** Which rule each of the validator's codes breaks; codes not listed (illegal-transition) are not counted. */
const RULE_OF: Partial<Record<ProblemCode, AuditRule>> = {
  'empty-subject': 'subject',
  'missing-prefix': 'subject',
  'empty-token': 'subject',
  'bad-token': 'subject',
  'wrong-token-count': 'subject',
  'unknown-family': 'subject',
  'unknown-service': 'subject',
  'reserved-service': 'subject',
  'unknown-task-verb': 'subject',
  'wildcard-not-allowed': 'subject',
  'bad-wildcard': 'subject',
  'forbidden-subject': 'subject',
  'not-json': 'envelope',
  'not-object': 'envelope',
  'missing-field': 'envelope',
  'bad-specversion': 'envelope',
  'bad-type': 'envelope',
  'bad-field': 'envelope',
  'bad-dataschema': 'envelope',
  'bad-datacontenttype': 'envelope',
  'data-not-object': 'envelope',
  'unknown-source': 'envelope',
  'type-mismatch': 'envelope',
  'task-subject-mismatch': 'envelope',
  'bad-time': 'time',
  'missing-correlation': 'correlation',
  'missing-causation': 'causation',
  'no-schema': 'schema',
  'unknown-schema-version': 'schema',
  'schema-violation': 'payload',
  'opaque-binary': 'size',
  'too-large': 'size',
  'bad-utf8': 'size',
}

/**
 * Warnings that count against a rule. The validator's other warnings are "should"s (a type whose service is
 * not the subject's, a task verb beyond the minimum), not breaks.
 */
const COUNTED_WARNINGS = new Set<string>(['missing-causation', 'no-schema', 'unknown-schema-version'])

const isCounted = (warning: {code: string}) => COUNTED_WARNINGS.has(warning.code)

/** The streams an audit reads by default: where commands, events and task events are stored. */
export const AUDIT_STREAMS = [STREAMS.cmd, STREAMS.evt, STREAMS.task] as const

/** Groups (service and type) kept apart; beyond this, a service's further types are counted as `(other)`. */
export const MAX_GROUPS = 2000
const MAX_NAME = 80
const OTHER = '(other)'
const MAX_ID = 200

/** Where one offending message is stored, and the dvctl command that shows it. */
export const AuditRef = z.object({
  site: z.string(),
  stream: z.string(),
  seq: z.number().int(),
  /** When the stream stored it (RFC 3339). */
  time: z.string(),
  subject: z.string(),
  id: z.string().optional(),
  correlation_id: z.string().optional(),
  /** `dvctl workflow show ...` when the correlation_id can be typed back, else `dvctl tail ...` at its time. */
  open: z.string(),
})
export type AuditRef = z.infer<typeof AuditRef>

export const AuditRuleCount = z.object({
  /** Messages breaking the rule (each counted once, however many problems it has). */
  messages: z.number().int(),
  percent: z.number(),
  /** The validator's problem codes seen under this rule, with how many messages had each. */
  codes: z.record(z.string(), z.number().int()),
  first: AuditRef.optional(),
  last: AuditRef.optional(),
})
export type AuditRuleCount = z.infer<typeof AuditRuleCount>

const ruleCounts = <T extends z.ZodType>(value: T) =>
  z.object(Object.fromEntries(AUDIT_RULES.map((r) => [r, value])) as Record<AuditRule, T>)

/** One message type of one emitting service. */
export const AuditTypeRow = z.object({
  service: z.string(),
  type: z.string(),
  seen: z.number().int(),
  /** Messages breaking at least one rule. */
  failing: z.number().int(),
  percent: z.number(),
  rules: ruleCounts(AuditRuleCount),
})
export type AuditTypeRow = z.infer<typeof AuditTypeRow>

export const AuditServiceRow = z.object({
  service: z.string(),
  seen: z.number().int(),
  failing: z.number().int(),
  percent: z.number(),
  /** Its failing share is over --fail-over. */
  over: z.boolean(),
  rules: ruleCounts(z.object({messages: z.number().int(), percent: z.number()})),
})
export type AuditServiceRow = z.infer<typeof AuditServiceRow>

/** `contract audit --json` (docs/architecture.md, JSON results). */
export const ContractAuditResult = z.object({
  window: z.object({from: z.string().nullable(), to: z.string().nullable()}),
  streams: z.array(z.string()),
  sites: z.array(SiteReport),
  /** The smallest max_payload of the sites read: the size rule's limit (null when no site said). */
  max_payload: z.number().int().nullable(),
  fail_over: z.number().nullable(),
  /** Messages read; `audited` of them passed --service. */
  scanned: z.number().int(),
  audited: z.number().int(),
  services: z.array(AuditServiceRow),
  types: z.array(AuditTypeRow),
  /** Services over --fail-over; exit 10 when not empty. */
  over: z.array(z.string()),
  /** More than MAX_GROUPS types were seen: the rest are counted under type `(other)`. */
  truncated: z.boolean(),
})
export type ContractAuditResult = z.infer<typeof ContractAuditResult>

interface RuleTally {
  messages: number
  codes: Map<string, number>
  first?: StoredRef
  last?: StoredRef
}

interface StoredRef {
  site: string
  stream: string
  seq: number
  time: string
  subject: string
  id?: string
  correlation_id?: string
}

interface GroupTally {
  service: string
  type: string
  seen: number
  failing: number
  rules: RuleTally[]
}

export interface AuditTallyOptions {
  registry?: PayloadRegistry
  /** The size rule's limit in bytes. */
  maxPayload?: number
  /** Only these emitting services. */
  services?: readonly string[]
}

/**
 * The counters of one audit: feed it stored messages (`add`, synchronous and cheap), then read the result.
 * Pure apart from the validator, so the unit tests and the scan share it.
 */
export class AuditTally {
  scanned = 0
  audited = 0
  truncated = false
  /** By service, then type (two lookups of strings the message already has, no key built per message). */
  private readonly groups = new Map<string, Map<string, GroupTally>>()
  private groupCount = 0
  private readonly services: ReadonlySet<string> | undefined

  constructor(private readonly options: AuditTallyOptions = {}) {
    this.services = options.services?.length ? new Set(options.services) : undefined
  }

  add(stored: StoredMessage): void {
    this.scanned++
    const decoded = decodeMessage(stored.data, {
      subject: stored.subject,
      registry: this.options.registry,
      maxPayload: this.options.maxPayload,
      advisory: true,
    })
    const value = decoded.ok ? decoded.envelope : decoded.value
    const env =
      value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined
    const service = emitterOf(env, stored.subject)
    if (this.services && !this.services.has(service)) return
    this.audited++
    const type = typeof env?.type === 'string' && env.type !== '' ? clipName(env.type) : '(none)'
    const group = this.group(service, type)
    group.seen++
    // Most messages keep every rule: nothing to sort.
    if (decoded.ok && !decoded.warnings.some(isCounted)) return

    // Each rule once per message, with every code that broke it.
    let broken: Map<AuditRule, Set<string>> | undefined
    const count = (code: string) => {
      const rule = RULE_OF[code as ProblemCode]
      if (!rule) return
      broken ??= new Map()
      let codes = broken.get(rule)
      if (!codes) broken.set(rule, (codes = new Set()))
      codes.add(code)
    }
    if (!decoded.ok) for (const p of decoded.problems) count(p.code)
    for (const w of decoded.warnings) if (COUNTED_WARNINGS.has(w.code)) count(w.code)
    if (!broken) return
    group.failing++
    const ref = refOf(stored, env)
    for (const [rule, codes] of broken as Map<AuditRule, Set<string>>) {
      const tally = group.rules[AUDIT_RULES.indexOf(rule)]
      tally.messages++
      for (const code of codes) tally.codes.set(code, (tally.codes.get(code) ?? 0) + 1)
      if (!tally.first || before(ref, tally.first)) tally.first = ref
      if (!tally.last || before(tally.last, ref)) tally.last = ref
    }
  }

  result(context: {
    window: ScanWindow
    streams: readonly string[]
    sites: ContractAuditResult['sites']
    failOver?: number
  }): ContractAuditResult {
    const groups = [...this.groups.values()]
      .flatMap((byType) => [...byType.values()])
      .sort((a, b) => compareText(a.service, b.service) || compareText(a.type, b.type))
    const types: AuditTypeRow[] = groups.map((g) => ({
      service: g.service,
      type: g.type,
      seen: g.seen,
      failing: g.failing,
      percent: percent(g.failing, g.seen),
      rules: Object.fromEntries(
        AUDIT_RULES.map((rule, i) => {
          const t = g.rules[i]
          const counted: AuditRuleCount = {
            messages: t.messages,
            percent: percent(t.messages, g.seen),
            codes: Object.fromEntries([...t.codes].sort(([a], [b]) => compareText(a, b))),
            ...(t.first ? {first: withOpen(t.first)} : {}),
            ...(t.last ? {last: withOpen(t.last)} : {}),
          }
          return [rule, counted]
        }),
      ) as AuditTypeRow['rules'],
    }))
    const byService = new Map<string, AuditTypeRow[]>()
    for (const row of types) byService.set(row.service, [...(byService.get(row.service) ?? []), row])
    const services: AuditServiceRow[] = [...byService].map(([service, rows]) => {
      const seen = rows.reduce((n, r) => n + r.seen, 0)
      const failing = rows.reduce((n, r) => n + r.failing, 0)
      const share = percent(failing, seen)
      return {
        service,
        seen,
        failing,
        percent: share,
        over: context.failOver !== undefined && share > context.failOver,
        rules: Object.fromEntries(
          AUDIT_RULES.map((rule) => {
            const messages = rows.reduce((n, r) => n + r.rules[rule].messages, 0)
            return [rule, {messages, percent: percent(messages, seen)}]
          }),
        ) as AuditServiceRow['rules'],
      }
    })
    return {
      window: {from: context.window.from?.toISOString() ?? null, to: context.window.to?.toISOString() ?? null},
      streams: [...context.streams],
      sites: context.sites,
      max_payload: this.options.maxPayload ?? null,
      fail_over: context.failOver ?? null,
      scanned: this.scanned,
      audited: this.audited,
      services,
      types,
      over: services.filter((s) => s.over).map((s) => s.service),
      truncated: this.truncated,
    }
  }

  private group(service: string, type: string): GroupTally {
    let byType = this.groups.get(service)
    let group = byType?.get(type)
    if (group) return group
    if (this.groupCount >= MAX_GROUPS) {
      // A bus with endless distinct types or sources (or a hostile one) cannot grow the audit without bound:
      // a known service's new types are counted as its `(other)`, a new service's under `(other)` too.
      this.truncated = true
      if (!byType) {
        service = OTHER
        byType = this.groups.get(service)
      }
      type = OTHER
      group = byType?.get(type)
      if (group) return group
    }
    group = {service, type, seen: 0, failing: 0, rules: AUDIT_RULES.map(() => ({messages: 0, codes: new Map()}))}
    if (!byType) this.groups.set(service, (byType = new Map()))
    byType.set(type, group)
    this.groupCount++
    return group
  }
}

/**
 * The emitting service: the envelope's `source` (whatever it says: an unknown source is a finding of its
 * own); else, for an event, the subject's service (events are emitted by the service they are named after).
 */
function emitterOf(env: Record<string, unknown> | undefined, subject: string): string {
  if (typeof env?.source === 'string' && env.source !== '') return clipName(env.source)
  const tokens = subject.split('.')
  if (tokens[0] === 'dv' && tokens[2] === 'evt' && tokens[1] !== 'task' && TOKEN.test(tokens[1])) return tokens[1]
  return '(unknown)'
}

function refOf(stored: StoredMessage, env: Record<string, unknown> | undefined): StoredRef {
  const ref: StoredRef = {
    site: stored.site,
    stream: stored.stream,
    seq: stored.seq,
    time: stored.time,
    subject: stored.subject,
  }
  if (typeof env?.id === 'string' && env.id !== '') ref.id = env.id.slice(0, MAX_ID)
  if (typeof env?.correlation_id === 'string' && env.correlation_id !== '')
    ref.correlation_id = env.correlation_id.slice(0, MAX_ID)
  return ref
}

/** Stored time, then site, stream and sequence: the order first and last are judged by. */
function before(a: StoredRef, b: StoredRef): boolean {
  if (a.time !== b.time) return a.time < b.time
  if (a.site !== b.site) return a.site < b.site
  if (a.stream !== b.stream) return a.stream < b.stream
  return a.seq < b.seq
}

/** A correlation id that a shell takes as one plain word (ids come from the network). */
const PLAIN_ID = /^[A-Za-z0-9][A-Za-z0-9._:@+-]{0,199}$/
const PLAIN_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/

/**
 * The command that shows the message: its workflow when the correlation_id can be typed back safely, else
 * `tail` on its site, subject and stored time (the millisecond it was stored, so the message is among the
 * few shown). Nothing from the network reaches it unless it is a plain word.
 */
export function openCommand(ref: StoredRef): string {
  const site = PLAIN_NAME.test(ref.site) ? ` --site ${ref.site}` : ''
  if (ref.correlation_id && PLAIN_ID.test(ref.correlation_id)) return `dvctl workflow show ${ref.correlation_id}${site}`
  const subject = /^[a-z0-9_.]+$/.test(ref.subject) ? ` --subject ${ref.subject}` : ''
  return `dvctl tail${site}${subject} --from ${ref.time} --to ${ref.time}`
}

function withOpen(ref: StoredRef): AuditRef {
  return {...ref, open: openCommand(ref)}
}

function clipName(text: string): string {
  return text.length > MAX_NAME ? `${text.slice(0, MAX_NAME - 1)}…` : text
}

function percent(part: number, whole: number): number {
  return whole === 0 ? 0 : Math.round((10_000 * part) / whole) / 100
}

export interface AuditOptions {
  window: ScanWindow
  /** The streams to read (default: AUDIT_STREAMS). */
  streams?: readonly string[]
  services?: readonly string[]
  registry?: PayloadRegistry
  failOver?: number
  /** Sites the fan-out could not reach; listed in `sites` with their error. */
  unreachable?: readonly SiteStatus[]
  batch?: number
  signal?: AbortSignal
}

/**
 * Reads the history of the streams on every site through the one stream reader, each stream of each site
 * concurrently and each message handed straight to the tally (no queue, no await per message beyond the
 * reader's own), as `workflow show` scans. A site that fails is reported in `sites[].error`; the others
 * are still read.
 */
export async function auditContract(
  connections: readonly SiteConnection[],
  options: AuditOptions,
): Promise<ContractAuditResult> {
  const streams = options.streams?.length ? [...new Set(options.streams)] : [...AUDIT_STREAMS]
  const limits = connections.map((c) => c.nc.info?.max_payload).filter((n): n is number => typeof n === 'number')
  const tally = new AuditTally({
    registry: options.registry,
    services: options.services,
    maxPayload: limits.length ? Math.min(...limits) : undefined,
  })
  const sites = await Promise.all(
    connections.map(async (conn) => {
      const missing: string[] = []
      const site: SiteDrainOutcome = {site: conn.site.name, missing}
      const settled = await Promise.allSettled(
        streams.map(async (stream) => {
          await drainStream(
            conn,
            {stream},
            {
              start: options.window.from ? {time: options.window.from} : undefined,
              to: options.window.to,
              batch: options.batch,
              signal: options.signal,
            },
            (m) => tally.add(m),
          )
        }),
      )
      settled.forEach((s, i) => {
        if (s.status === 'fulfilled') return
        if (s.reason instanceof StreamMissing) missing.push(streams[i])
        else if (!site.error) {
          const failure = connectionError(conn.site, conn.url, s.reason)
          site.error = failure.message
          site.code = failure.code
        }
      })
      return site
    }),
  )
  return tally.result({
    window: options.window,
    streams,
    sites: siteReports(sites, options.unreachable),
    failOver: options.failOver,
  })
}
