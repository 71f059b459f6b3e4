import chalk from 'chalk'

import type {DemoResult} from '../demo/run.js'
import {err, out} from './terminal.js'

/** A step of the demo as it happens (stderr: progress, not the result). */
export function demoStep(message: string): void {
  err(`${chalk.dim('demo:')} ${message}`)
}

const KIND_LABEL: Record<DemoResult['workflows'][number]['kind'], string> = {
  provisioning: 'server provisioning',
  'network-apply': 'cross-site network apply',
  poison: 'poison command',
}

/** What happened (each workflow with its ids, the dead letter) and the commands to try next. */
export function renderDemo(result: DemoResult): void {
  out(chalk.bold('What happened'))
  for (const w of result.workflows) {
    const mark = (w.outcome === 'succeeded' ? chalk.green : chalk.red)(w.outcome.padEnd(9))
    out(`  ${KIND_LABEL[w.kind].padEnd(25)} ${mark} site ${w.site}  ${w.subject}  ${w.stream}:${w.seq}`)
    out(`  ${''.padEnd(25)} correlation ${w.correlation_id}  task ${w.task_id}`)
  }
  const d = result.dead_letter
  out(
    `  ${'dead letter'.padEnd(25)} ${chalk.yellow(d.ref)} on ${d.site} (${d.reason} by consumer ${d.consumer}): ${d.error.code}: ${d.error.message}`,
  )
  out()
  out(chalk.bold('Try next'))
  for (const n of result.next) {
    out(`  ${n.command}`)
    out(`      ${chalk.dim(n.description)}`)
  }
  if (result.sandbox?.registered_in) {
    out()
    out(`The sandbox's sites are in ${result.sandbox.registered_in}; stop it with: dvctl sandbox down`)
  }
}
