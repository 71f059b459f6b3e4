import {Flags} from '@oclif/core'

import {durationFlag} from '../base-command.js'
import type {TaskFilter} from './watch.js'

/** The task filters shared by `task watch` and `task list` (DESIGN.md section 7). */
export const taskFilterFlags = {
  correlation: Flags.string({summary: 'Only tasks of this workflow (correlation_id).'}),
  task: Flags.string({summary: 'Only this task id.'}),
  service: Flags.string({summary: 'Only tasks reported by this service (the envelope source).'}),
  tenant: Flags.string({summary: 'Only tasks of this tenant (tenant_id).'}),
  since: durationFlag({
    summary: 'How far back the history goes.',
    default: 24 * 3_600_000,
    defaultHelp: async () => '24h',
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
 * Whether `--timeout` was given on the command line. The global default (5s) bounds connecting and each
 * request; a wait for tasks is bounded by it only when the user asked (`task watch --until-done`, `publish --wait`).
 */
export function timeoutGiven(argv: string[]): boolean {
  return argv.some((a) => a === '--timeout' || a.startsWith('--timeout='))
}
