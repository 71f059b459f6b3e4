import chalk from 'chalk'

import type {Job} from '../dlq/jobs.js'
import {LiveScreen, statusLine, type ScreenSize} from './live.js'
import {layoutTable, truncate, type Column} from './table.js'
import {formatTime, out, table, type Terminal} from './terminal.js'
import {field} from './text.js'

const COLUMNS: Column[] = [
  {header: 'JOB', fit: 'id'},
  {header: 'STATE', fit: 'fixed'},
  {header: 'SENT', fit: 'fixed', align: 'right'},
  {header: 'TOTAL', fit: 'fixed', align: 'right'},
  {header: 'FAILED', fit: 'fixed', align: 'right'},
  {header: 'ACTOR', min: 6},
  {header: 'STARTED', fit: 'fixed'},
  {header: 'UPDATED', fit: 'fixed', optional: true},
  {header: 'REASON', optional: true},
]

function rows(term: Terminal, jobs: readonly Job[], now = Date.now()): string[][] {
  return jobs.map((j) => [
    field(j.id),
    j.state,
    String(j.done),
    String(j.total),
    String(j.failed),
    field(j.actor),
    formatTime(term, j.started_at, now),
    formatTime(term, j.updated_at, now),
    j.reason === null ? '-' : field(j.reason),
  ])
}

/** `dlq jobs`: one row per replay job (network strings sanitised by `field`). */
export async function renderJobs(term: Terminal, jobs: readonly Job[]): Promise<void> {
  if (jobs.length === 0) {
    if (term.stdoutTTY) out(chalk.dim('No replay jobs.'))
    return
  }
  await table(term, COLUMNS, rows(term, jobs))
}

/** One line per job that changed (`dlq jobs --watch` when stdout is not a terminal). */
export function jobLine(job: Job): string {
  return [field(job.id), job.state, `${job.done}/${job.total}`, `failed ${job.failed}`, field(job.actor)].join('\t')
}

/** `dlq jobs --watch` on a terminal: the table, redrawn every second. */
export class LiveJobTable {
  private jobs: readonly Job[] = []
  private readonly started = Date.now()
  private readonly screen = new LiveScreen((size) => this.frame(size), {keep: 2})

  constructor(
    private readonly term: Terminal,
    private readonly site: string,
  ) {}

  start(): void {
    this.screen.start()
  }

  update(jobs: readonly Job[]): void {
    this.jobs = jobs
    this.screen.draw()
  }

  stop(): void {
    const size = this.screen.size()
    this.screen.stop(this.frame(size).slice(1))
  }

  private frame(size: ScreenSize): string[] {
    const running = this.jobs.filter((j) => j.state === 'running' || j.state === 'cancelling').length
    const state = `${this.jobs.length} job(s), ${running} running (Ctrl-C to stop)`
    const status = truncate(statusLine('replay jobs', [this.site], this.started, state), size.columns)
    if (this.jobs.length === 0) return [status]
    return [
      status,
      ...layoutTable(COLUMNS, rows(this.term, this.jobs), {width: size.columns, header: (h) => chalk.bold(h)}),
    ]
  }
}
