import chalk from 'chalk'

import type {AuditRef, ContractAuditResult} from '../contract/audit.js'
import {AUDIT_RULES} from '../contract/audit-rules.js'
import type {Problem} from '../contract/problems.js'
import type {JsonSchemaExport, PayloadJsonSchema, SchemaList, SchemaListEntry} from '../contract/schemas.js'
import type {SubjectAnalysis} from '../contract/taxonomy.js'
import type {ValidateResult} from '../contract/validate.js'
import {renderListing, type Listing} from './listing.js'
import type {ColumnSpec} from './table.js'
import {err, out, table, type Terminal} from './terminal.js'
import {field} from './text.js'

const mark = (valid: boolean) => (valid ? chalk.green('valid') : chalk.red('invalid'))

function problemLines(problems: Problem[], warnings: Problem[], indent = '  '): void {
  for (const p of problems) out(`${indent}${chalk.red('error')}   ${p.code}  ${chalk.dim(p.path)}  ${p.message}`)
  for (const w of warnings) out(`${indent}${chalk.yellow('warning')} ${w.code}  ${chalk.dim(w.path)}  ${w.message}`)
}

/** `contract subject`: the verdict, the parts of the subject, then each problem and warning with its code. */
export function renderSubjectAnalysis(_term: Terminal, a: SubjectAnalysis): void {
  const parts = [
    a.family ? `family=${a.family}` : undefined,
    a.service ? `service=${a.service}` : undefined,
    a.action ? `action=${a.action}` : undefined,
    a.entity ? `entity=${a.entity}` : undefined,
    a.verb ? `verb=${a.verb}` : undefined,
    a.operation ? `operation=${a.operation}` : undefined,
    a.filter ? 'filter' : undefined,
  ].filter(Boolean)
  out(`${mark(a.valid)} ${a.subject}${parts.length ? `  ${parts.join(' ')}` : ''}`)
  problemLines(a.problems, a.warnings)
}

/** `contract validate`: one line per message, its problems below it, and a count. */
export function renderValidation(_term: Terminal, result: ValidateResult): void {
  for (const r of result.results) {
    const what = [r.id ?? '(no id)', r.type ?? ''].filter(Boolean).join(' ')
    out(`${mark(r.valid)} #${r.index}${r.line ? ` (line ${r.line})` : ''} ${what}`)
    problemLines(r.problems, r.warnings)
  }
  const bad = result.results.filter((r) => !r.valid).length
  const total = result.results.length
  out(
    bad === 0
      ? chalk.green(`${total} ${total === 1 ? 'message' : 'messages'} valid`)
      : chalk.red(`${bad} of ${total} ${total === 1 ? 'message' : 'messages'} invalid`),
  )
}

/** `contract schemas`'s columns; the dataschema (type and version again) as the window allows. */
export const SCHEMA_LISTING: Listing<SchemaListEntry> = [
  {name: 'type', min: 40, cell: (s) => s.type},
  {name: 'version', fit: 'fixed', align: 'right', cell: (s) => `v${s.version}`, sortBy: (s) => s.version},
  {name: 'dataschema', optional: true, cell: (s) => s.dataschema},
  {name: 'origin', fit: 'fixed', cell: (s) => s.origin},
  {name: 'description', min: 16, cell: (s) => s.description ?? ''},
]

/** `contract schemas`: the registered payload types and versions. */
export async function renderSchemaList(term: Terminal, list: SchemaList): Promise<void> {
  await renderListing(term, SCHEMA_LISTING, list.schemas)
}

/** `contract schemas TYPE`: each version's heading, then its JSON Schema. */
export function renderSchemaDetail(_term: Terminal, versions: PayloadJsonSchema[]): void {
  for (const v of versions) {
    out(chalk.bold(`${v.dataschema} (${v.origin})${v.description ? `: ${v.description}` : ''}`))
    out(JSON.stringify(v.json_schema, null, 2))
  }
}

/** A JSON Schema document (or the whole export) as is, for redirecting to a file. */
export function renderJsonSchema(_term: Terminal, schema: JsonSchemaExport | Record<string, unknown>): void {
  out(JSON.stringify(schema, null, 2))
}

/** A share as the audit shows it: `-` for none, else the percentage to one decimal (`<0.1%` below that). */
function share(messages: number, percent: number): string {
  if (messages === 0) return '-'
  const rounded = Math.round(percent * 10) / 10
  return rounded === 0 ? '<0.1%' : `${rounded}%`
}

/** `osl1/DV_CMD:17`: where an offending message is stored. */
function refCell(ref: AuditRef | undefined): string {
  return ref ? `${field(ref.site)}/${field(ref.stream)}:${ref.seq}` : '-'
}

/**
 * `contract audit`: one table of shares (per service, type `*`, then each of its types), one of the first and
 * last offending message of each rule and type with the command that opens the first; the services over
 * --fail-over on stderr.
 */
export async function renderAudit(term: Terminal, result: ContractAuditResult): Promise<void> {
  // A rule nobody broke gives way first on a narrow terminal (piped output has every column).
  const ruleColumns: ColumnSpec[] = AUDIT_RULES.map((rule) => ({
    header: rule,
    fit: 'fixed',
    align: 'right',
    optional: result.services.every((s) => s.rules[rule].messages === 0),
  }))
  const rows: Array<Array<string | number>> = []
  for (const service of result.services) {
    const over = service.over
      ? chalk.red(share(service.failing, service.percent))
      : share(service.failing, service.percent)
    rows.push([
      field(service.service),
      '*',
      service.seen,
      over,
      ...AUDIT_RULES.map((r) => share(service.rules[r].messages, service.rules[r].percent)),
    ])
    for (const t of result.types.filter((x) => x.service === service.service)) {
      rows.push([
        field(t.service),
        field(t.type),
        t.seen,
        share(t.failing, t.percent),
        ...AUDIT_RULES.map((r) => share(t.rules[r].messages, t.rules[r].percent)),
      ])
    }
  }
  if (rows.length === 0) {
    err(`No messages in ${result.streams.join(', ')}${result.window.from ? ` since ${result.window.from}` : ''}.`)
    return
  }
  await table(
    term,
    [
      {header: 'service', min: 8},
      {header: 'type', min: 16},
      {header: 'seen', fit: 'fixed', align: 'right'},
      {header: 'failing', fit: 'fixed', align: 'right'},
      ...ruleColumns,
    ],
    rows,
  )

  const offending: Array<Array<string | number>> = []
  for (const t of result.types) {
    for (const rule of AUDIT_RULES) {
      const r = t.rules[rule]
      if (r.messages === 0) continue
      offending.push([
        field(t.service),
        field(t.type),
        rule,
        r.messages,
        Object.keys(r.codes).join(','),
        refCell(r.first),
        refCell(r.last),
        r.first ? field(r.first.open) : '-',
      ])
    }
  }
  if (offending.length > 0) {
    out()
    if (term.stdoutTTY) out(chalk.bold('First and last offending message per rule'))
    await table(
      term,
      [
        {header: 'service', min: 8},
        {header: 'type', min: 16},
        {header: 'rule', fit: 'fixed'},
        {header: 'messages', fit: 'fixed', align: 'right'},
        {header: 'codes', min: 12, optional: true},
        {header: 'first', fit: 'fixed'},
        {header: 'last', fit: 'fixed'},
        {header: 'open first with', min: 20, optional: true},
      ],
      offending,
    )
  }
  if (result.truncated) err('More message types than the audit keeps apart: the rest are counted as (other).')
  const limit = result.fail_over
  for (const s of result.services.filter((x) => x.over)) {
    err(`${field(s.service)}: ${s.percent}% of ${s.seen} messages break a rule, over --fail-over ${limit}%.`)
  }
}
