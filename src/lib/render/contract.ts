import chalk from 'chalk'

import type {Problem} from '../contract/problems.js'
import type {JsonSchemaExport, PayloadJsonSchema, SchemaList, SchemaListEntry} from '../contract/schemas.js'
import type {SubjectAnalysis} from '../contract/taxonomy.js'
import type {ValidateResult} from '../contract/validate.js'
import {renderListing, type Listing} from './listing.js'
import {out, type Terminal} from './terminal.js'

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
