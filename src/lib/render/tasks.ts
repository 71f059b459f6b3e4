import chalk from 'chalk'

import type {TaskRecord, TaskUpdate} from '../tasks/board.js'
import {prop} from '../value.js'
import {renderListing, type Listing} from './listing.js'
import {formatAge, formatTime, out, type Terminal} from './terminal.js'
import {field, sanitize} from './text.js'

const BAR_WIDTH = 20

/**
 * A task's reported progress (`data.progress.percent`) as `[#########-----------]  45%`: a fixed-width bar,
 * plain characters so it survives any terminal.
 */
export function percentBar(percent: number | undefined, width = BAR_WIDTH): string {
  if (percent === undefined) return ' '.repeat(width + 7)
  const p = Math.max(0, Math.min(100, Math.round(percent)))
  // Rounded down: the bar is only full when the work is.
  const filled = Math.floor((p / 100) * width)
  return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${String(p).padStart(3)}%`
}

function colourState(state: string): string {
  const text = field(state)
  switch (state) {
    case 'succeeded':
      return chalk.green(text)
    case 'failed':
    case 'cancelled':
      return chalk.red(text)
    default:
      return chalk.cyan(text)
  }
}

/**
 * Percent shown for a task: its last progress, 100 once succeeded. The progress and error of a task are
 * what its events said, unchecked: a percent that is not a number is not shown.
 */
function percentOf(task: TaskRecord): number | undefined {
  if (task.state === 'succeeded') return 100
  const percent = prop(task.progress, 'percent')
  return typeof percent === 'number' && Number.isFinite(percent) ? percent : undefined
}

/** `code: message` of a task's error, or undefined; each part sanitised, whatever its type. */
function errorText(task: TaskRecord): string | undefined {
  if (!task.error) return undefined
  const text = (v: unknown) => (v === undefined || v === null ? '' : field(v, 200))
  return `${text(prop(task.error, 'code'))}: ${text(prop(task.error, 'message'))}`
}

/** The progress message of a task, sanitised, or undefined. */
function progressMessage(task: TaskRecord): string | undefined {
  const message = prop(task.progress, 'message')
  return message === undefined || message === null || message === '' ? undefined : field(message, 200)
}

function detailOf(task: TaskRecord): string {
  const parts: string[] = []
  const error = errorText(task)
  if (error) parts.push(error)
  else {
    const message = progressMessage(task)
    if (message) parts.push(message)
  }
  if (task.illegal_transitions > 0) parts.push(chalk.red(`${task.illegal_transitions} illegal transition(s)`))
  return parts.join('; ')
}

/** The rows of the task table: task, service, state, progress bar with percent and message, age, site. */
export function taskRows(tasks: TaskRecord[], now = Date.now()): string[][] {
  return tasks.map((t) => [
    field(t.task_id),
    field(t.service ?? '-'),
    colourState(t.state),
    `${percentBar(percentOf(t))} ${detailOf(t)}`.trimEnd(),
    formatAge(now - (typeof t.created_at === 'string' ? Date.parse(t.created_at) : NaN)),
    field(t.site),
  ])
}

const HEAD = ['TASK', 'SERVICE', 'STATE', 'PROGRESS', 'AGE', 'SITE']

/**
 * The live task table on a TTY, redrawn in place: each frame moves the cursor back over the previous one
 * and clears to the end of the screen before printing (README, `task watch`).
 */
export class LiveTaskTable {
  private lines = 0

  /** `maxRows`: more tasks than fit would scroll the frame off screen, so only the latest updated are shown. */
  constructor(private readonly maxRows = 30) {}

  /** `footer`: notices under the table, one a line; they quote messages, so they are sanitised here. */
  async draw(all: TaskRecord[], notices?: string): Promise<void> {
    let footer = notices === undefined ? undefined : sanitize(notices, 'block')
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
    field(t.site),
    field(t.task_id),
    update.illegal ? `${field(t.last_verb)}(illegal: ${field(update.illegal.message)})` : field(t.state),
    percent === undefined ? '-' : `${percent}%`,
    errorText(t) ?? progressMessage(t) ?? '-',
    field(t.service ?? '-'),
  ]
  return cells.join('\t')
}

/** A time as an age (`3m`) on a TTY; RFC 3339 when piped. */
function ageCell(term: Terminal, time: string): string {
  const at = Date.parse(time)
  return term.stdoutTTY && !Number.isNaN(at) ? formatAge(Date.now() - at) : formatTime(term, time)
}

/**
 * `task list`'s columns. On a TTY the progress is a bar with its percent, piped the percent alone; the
 * message is the task's error, else its last progress message. `updated` and `site` as the window allows.
 */
export const TASK_LISTING: Listing<TaskRecord> = [
  {name: 'task', fit: 'id', cell: (t) => field(t.task_id)},
  {name: 'service', min: 8, cell: (t) => field(t.service ?? '-')},
  {name: 'state', fit: 'fixed', cell: (t, term) => (term.stdoutTTY ? colourState(t.state) : field(t.state))},
  {
    name: 'progress',
    fit: 'fixed',
    cell: (t, term) =>
      term.stdoutTTY ? percentBar(percentOf(t)) : percentOf(t) === undefined ? '-' : `${percentOf(t)}%`,
    sortBy: (t) => percentOf(t),
  },
  {name: 'message', min: 12, cell: (t) => detailOf(t) || '-'},
  {name: 'age', fit: 'fixed', cell: (t, term) => ageCell(term, t.created_at), sortBy: (t) => -Date.parse(t.created_at)},
  {
    name: 'updated',
    fit: 'fixed',
    optional: true,
    cell: (t, term) => ageCell(term, t.updated_at),
    sortBy: (t) => -Date.parse(t.updated_at),
  },
  {name: 'site', optional: true, cell: (t) => field(t.site)},
]

/** `task list`: the latest state of each task. */
export async function renderTaskList(term: Terminal, tasks: TaskRecord[]): Promise<void> {
  if (tasks.length === 0) {
    out('No tasks found.')
    return
  }
  await renderListing(term, TASK_LISTING, tasks)
}

/** The closing line of a watch: what ended and why. */
export function watchSummary(tasks: TaskRecord[]): string {
  const counts = new Map<string, number>()
  for (const t of tasks) counts.set(field(t.state), (counts.get(field(t.state)) ?? 0) + 1)
  const parts = [...counts.entries()].map(([state, n]) => `${n} ${state}`)
  return `${tasks.length} task(s): ${parts.join(', ') || 'none'}`
}

/** The error of each failed or cancelled task, for stderr. */
export function failureLines(tasks: TaskRecord[]): string[] {
  return tasks
    .filter((t) => t.state === 'failed' || t.state === 'cancelled')
    .map((t) => `Task ${field(t.task_id)} ${field(t.state)}${t.error ? `: ${errorText(t)}` : ''}`)
}
