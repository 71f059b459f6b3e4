import chalk from 'chalk'

import type {AdoptResult} from '../layout/adopt.js'
import type {LayoutResult} from '../layout/apply.js'
import type {LayoutProblem} from '../layout/load.js'
import {type KeptReason, type LayoutChange, summarisePlan, type UnmanagedObject} from '../layout/plan.js'
import type {Layout} from '../layout/schema.js'
import type {LayoutValidation} from '../layout/validate.js'
import {err, out, type Terminal} from './terminal.js'
import {targetText, type ChangeTarget} from './prompt.js'

const marks: Record<LayoutChange['action'], string> = {
  create: chalk.green('+'),
  update: chalk.yellow('~'),
  recreate: chalk.red('-/+'),
  delete: chalk.red('-'),
  noop: ' ',
}

const show = (value: unknown) => (value === null || value === undefined ? '(unset)' : JSON.stringify(value))
const label = (c: {kind: string; name: string; stream?: string}) =>
  c.kind === 'consumer' ? `consumer ${c.stream}/${c.name}` : `${c.kind} ${c.name}`

/** A plan like `terraform plan`: `+` create, `~` update, `-/+` recreate, `-` delete, then a summary line. */
export function renderPlan(_term: Terminal, result: LayoutResult): void {
  out(`Site ${chalk.bold(result.site)}, layout ${chalk.bold(result.layout ?? '(unnamed)')}`)
  const changes = result.changes.filter((c) => c.action !== 'noop')
  if (changes.length) out()
  for (const change of changes) {
    let note = ''
    if (change.action === 'recreate' && change.kind !== 'consumer') {
      note = chalk.red('  (recreating deletes all of its messages)')
    } else if (change.reason) note = chalk.dim(`  (${change.reason})`)
    out(`  ${marks[change.action]} ${label(change)}${note}`)
    for (const d of change.diff) {
      const forces = d.forces_recreate ? chalk.red('  # forces recreate') : ''
      out(
        change.action === 'create'
          ? `      ${d.field}: ${show(d.to)}`
          : `      ${d.field}: ${show(d.from)} ${chalk.dim('->')} ${show(d.to)}${forces}`,
      )
    }
  }
  if (result.unmanaged.length) out()
  for (const [reason, heading] of Object.entries(keptHeadings(result.layout))) {
    const kept = result.unmanaged.filter((u) => u.reason === reason)
    if (kept.length) out(chalk.dim(`${heading}: ${kept.map(ownedLabel).join(', ')}`))
  }
  const state = result.changes.flatMap((change) => (change.state ?? []).map((s) => `${label(change)}: ${s.note}`))
  if (state.length) {
    out()
    out('Runtime state, kept as it is:')
    for (const line of state) out(`  ${line}`)
  }
  out()
  const s = summarisePlan(result.changes)
  if (!changes.length) {
    out(`No changes. Site ${result.site} matches the layout (${s.noop} object${s.noop === 1 ? '' : 's'}).`)
    return
  }
  out(`Plan: ${counts(result.changes)}`)
}

const keptHeadings = (layout: string | null): Record<KeptReason, string> => ({
  'prune-not-given': 'Not in the layout, kept (--prune deletes them: dvctl created them for it)',
  'not-owned': `Not in the layout and not created by dvctl for layout ${layout ?? '(unnamed)'}, kept`,
  'server-owned': 'Owned by the server, kept',
  'audit-trail': 'The dead-letter audit trail, kept',
})
const ownedLabel = (u: UnmanagedObject) =>
  u.reason === 'not-owned' && u.owner ? `${label(u)} (layout ${u.owner})` : label(u)

const counts = (changes: LayoutChange[]) => {
  const s = summarisePlan(changes)
  return `${s.create} to create, ${s.update} to update, ${s.recreate} to recreate, ${s.delete} to delete; ${s.noop} unchanged.`
}

/** The outcome of `apply`, after the plan was shown: what was done, or what failed and what was not attempted. */
export function renderApplied(result: LayoutResult, target: ChangeTarget): void {
  out()
  if (result.failed.length || result.not_attempted.length) {
    out(
      chalk.red(
        `Applied in part ${targetText(target)}: ${result.done.length} done, ${result.failed.length} failed, ` +
          `${result.not_attempted.length} not attempted.`,
      ),
    )
    for (const d of result.done) out(`  ${chalk.green('✓')} ${label(d)} (${d.action})`)
    for (const f of result.failed) out(`  ${chalk.red('!')} ${label(f)} (${f.action}): ${f.error}`)
    for (const n of result.not_attempted)
      out(`  ${chalk.yellow('?')} ${label(n)} (${n.action}): not attempted, ${n.reason}`)
    out('Run the same apply again to finish the rest.')
    return
  }
  const s = summarisePlan(result.changes)
  out(
    chalk.green(
      `Applied ${targetText(target)}: ${s.create} created, ${s.update} updated, ${s.recreate} recreated, ${s.delete} deleted; ${s.noop} unchanged.`,
    ),
  )
}

/** `layout adopt`: what is (or would be) marked, and what is left alone and why. */
export function renderAdopt(r: AdoptResult, target: ChangeTarget): void {
  const verb = r.dry_run ? 'Would mark' : 'Marked'
  out(`Layout ${chalk.bold(r.layout)} ${targetText(target)}`)
  if (r.adopted.length) out(`${verb} as created for ${r.layout}: ${r.adopted.map(label).join(', ')}`)
  if (r.already.length) out(chalk.dim(`Already marked: ${r.already.map(label).join(', ')}`))
  for (const s of r.skipped) out(chalk.dim(`Left alone: ${label(s)} (${s.reason})`))
  for (const f of r.failed) out(`  ${chalk.red('!')} ${label(f)}: ${f.error}`)
  if (r.not_attempted.length) out(chalk.yellow(`Not attempted (site lost): ${r.not_attempted.map(label).join(', ')}`))
  if (!r.adopted.length && !r.failed.length) out('Nothing to mark.')
}

export function renderProblems(source: string, problems: LayoutProblem[]): void {
  err(`Invalid layout ${source}:`)
  for (const p of problems) err(`  ${chalk.bold(p.path)}: ${p.message}`)
}

export function renderValidation(v: LayoutValidation): void {
  out(
    `${v.file}: valid layout ${v.layout ?? '(unnamed)'}: ${v.streams.length} streams, ${v.consumers} consumers, ` +
      `${v.kv.length} KV buckets${v.sites.length ? `, overrides for ${v.sites.join(', ')}` : ''}`,
  )
}

/** A layout as YAML, the format people edit. */
export async function renderLayoutYaml(layout: Layout): Promise<void> {
  const {stringify} = await import('yaml')
  const {sites, ...rest} = layout
  out(stringify(Object.keys(sites).length ? layout : rest, {lineWidth: 0}).trimEnd())
}
