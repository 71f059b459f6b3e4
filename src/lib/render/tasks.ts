import chalk from 'chalk'

import type {TaskRecord, TaskUpdate} from '../tasks/board.js'
import {formatAge, formatTime, out, table, type Terminal} from './terminal.js'

const BAR_WIDTH = 20

/** `[#########-----------]  45%`: a fixed-width bar, plain characters so it survives any terminal. */
export function progressBar(percent: number | undefined, width = BAR_WIDTH): string {
  if (percent === undefined) return ' '.repeat(width + 7)
  const p = Math.max(0, Math.min(100, Math.round(percent)))
  // Rounded down: the bar is only full when the work is.
  const filled = Math.floor((p / 100) * width)
  return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${String(p).padStart(3)}%`
}

function colourState(state: string): string {
  switch (state) {
    case 'succeeded':
      return chalk.green(state)
    case 'failed':
    case 'cancelled':
      return chalk.red(state)
    default:
      return chalk.cyan(state)
  }
}

/** Percent shown for a task: its last progress, 100 once succeeded. */
function percentOf(task: TaskRecord): number | undefined {
  if (task.state === 'succeeded') return 100
  return task.progress?.percent
}

function detailOf(task: TaskRecord): string {
  const parts: string[] = []
  if (task.error) parts.push(`${task.error.code}: ${task.error.message}`)
  else if (task.progress?.message) parts.push(task.progress.message)
  if (task.illegal_transitions > 0) parts.push(chalk.red(`${task.illegal_transitions} illegal transition(s)`))
  return parts.join('; ')
}

/** The rows of the task table: task, service, state, progress bar with percent and message, age, site. */
export function taskRows(tasks: TaskRecord[], now = Date.now()): string[][] {
  return tasks.map((t) => [
    t.task_id,
    t.service ?? '-',
    colourState(t.state),
    `${progressBar(percentOf(t))} ${detailOf(t)}`.trimEnd(),
    formatAge(now - new Date(t.created_at).getTime()),
    t.site,
  ])
}

const HEAD = ['TASK', 'SERVICE', 'STATE', 'PROGRESS', 'AGE', 'SITE']

/**
 * The live task table on a TTY, redrawn in place: each frame moves the cursor back over the previous one
 * and clears to the end of the screen before printing (DESIGN.md section 7, `task watch`).
 */
export class LiveTaskTable {
  private lines = 0

  /** `maxRows`: more tasks than fit would scroll the frame off screen, so only the latest updated are shown. */
  constructor(private readonly maxRows = 30) {}

  async draw(all: TaskRecord[], footer?: string): Promise<void> {
    let tasks = all
    if (all.length > this.maxRows) {
      const recent = new Set([...all].sort((a, b) => b.updated_at.localeCompare(a.updated_at)).slice(0, this.maxRows))
      tasks = all.filter((t) => recent.has(t))
      const more = `(${all.length - tasks.length} older task(s) not shown)`
      footer = footer ? `${more}\n${footer}` : more
    }
    const {default: Table} = await import('cli-table3')
    // No lines between rows: a live table should stay as short as the task list.
    const t = new Table({
      head: HEAD.map((h) => chalk.bold(h)),
      style: {head: [], border: []},
      chars: {mid: '', 'left-mid': '', 'mid-mid': '', 'right-mid': ''},
    })
    t.push(...taskRows(tasks))
    const frame = footer ? `${t.toString()}\n${footer}` : t.toString()
    const erase = this.lines > 0 ? `\x1b[${this.lines}A\x1b[J` : ''
    out(erase + frame)
    this.lines = frame.split('\n').length
  }
}

/** One line per task event when stdout is not a TTY: time, site, task, state, percent, message, service. */
export function taskEventLine(term: Terminal, update: TaskUpdate): string {
  const t = update.task
  const percent = percentOf(t)
  const cells = [
    formatTime(term, update.time),
    t.site,
    t.task_id,
    update.illegal ? `${t.last_verb}(illegal: ${update.illegal.message})` : t.state,
    percent === undefined ? '-' : `${percent}%`,
    t.error ? `${t.error.code}: ${t.error.message}` : (t.progress?.message ?? '-'),
    t.service ?? '-',
  ]
  return cells.join('\t')
}

/** `task list`: the latest state of each task. */
export async function renderTaskList(term: Terminal, tasks: TaskRecord[]): Promise<void> {
  if (tasks.length === 0) {
    out('No tasks found.')
    return
  }
  if (term.stdoutTTY) {
    await table(term, HEAD, taskRows(tasks))
    return
  }
  await table(
    term,
    HEAD,
    tasks.map((t) => [
      t.task_id,
      t.service ?? '-',
      t.state,
      percentOf(t) === undefined ? '-' : `${percentOf(t)}%`,
      t.updated_at,
      t.site,
    ]),
  )
}

/** The closing line of a watch: what ended and why. */
export function watchSummary(tasks: TaskRecord[]): string {
  const counts = new Map<string, number>()
  for (const t of tasks) counts.set(t.state, (counts.get(t.state) ?? 0) + 1)
  const parts = [...counts.entries()].map(([state, n]) => `${n} ${state}`)
  return `${tasks.length} task(s): ${parts.join(', ') || 'none'}`
}

/** The error of each failed or cancelled task, for stderr. */
export function failureLines(tasks: TaskRecord[]): string[] {
  return tasks
    .filter((t) => t.state === 'failed' || t.state === 'cancelled')
    .map((t) => `Task ${t.task_id} ${t.state}${t.error ? `: ${t.error.code}: ${t.error.message}` : ''}`)
}
