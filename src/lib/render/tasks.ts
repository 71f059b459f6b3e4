import chalk from 'chalk'

import {compareText} from '../order.js'
import type {TaskRecord, TaskUpdate} from '../tasks/board.js'
import type {TaskFilter} from '../tasks/watch.js'
import {prop} from '../value.js'
import {LiveScreen, statusLine, type ScreenSize} from './live.js'
import {renderListing, type Listing} from './listing.js'
import {layoutTable, truncate, type Column} from './table.js'
import {formatAge, formatClock, formatTime, out, type Terminal} from './terminal.js'
import {field} from './text.js'

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

/**
 * The rows of the live table: as taskRows, but the progress cell holds a bar only when the task reported a
 * percent, so that a failure's message is not pushed behind an empty bar.
 */
function liveTaskRows(tasks: TaskRecord[], now: number): string[][] {
  return tasks.map((t) => {
    const percent = percentOf(t)
    const progress = percent === undefined ? detailOf(t) : `${percentBar(percent)} ${detailOf(t)}`.trimEnd()
    return [
      field(t.task_id),
      field(t.service ?? '-'),
      colourState(t.state),
      progress,
      formatAge(now - (typeof t.created_at === 'string' ? Date.parse(t.created_at) : NaN)),
      field(t.site),
    ]
  })
}

/**
 * The live table's columns: the progress column (bar, percent, message or error) gives way first, cut with
 * `…`, so that every task is exactly one screen row however long its message.
 */
const LIVE_COLUMNS: Column[] = [
  {header: 'task', fit: 'id'},
  {header: 'service'},
  {header: 'state', fit: 'fixed'},
  {header: 'progress', min: 12},
  {header: 'age', fit: 'fixed'},
  {header: 'site'},
]

/** Notices kept under the live table (the latest). */
const LIVE_NOTICES = 5

/** What a watch reads, in words, for its status line: `tasks of service maskin, tenant t1`. */
export function taskFilterText(filter: TaskFilter): string {
  const parts: string[] = []
  if (filter.correlationId) parts.push(`correlation ${field(filter.correlationId)}`)
  if (filter.taskId) parts.push(`task ${field(filter.taskId)}`)
  if (filter.service) parts.push(`service ${field(filter.service)}`)
  if (filter.tenant) parts.push(`tenant ${field(filter.tenant)}`)
  return parts.length ? `tasks of ${parts.join(', ')}` : 'tasks'
}

/**
 * `task watch` on a terminal: a full-screen table redrawn in place (live.ts), a status line above it (what
 * is watched, on which sites, for how long), each task one screen row, no more rows than the window has;
 * when it stops, the last table is printed once on the user's screen.
 */
export class LiveTaskTable {
  private tasks: TaskRecord[] = []
  private notices: string[] = []
  private shown = false
  private readonly started = Date.now()
  private readonly screen = new LiveScreen((size) => this.frame(size), {keep: 2})

  constructor(private readonly watching: {what: string; sites: readonly string[]}) {}

  start(): void {
    this.screen.start()
  }

  /** The board after an event (once the history is read) and the notices so far (they quote messages). */
  update(tasks: TaskRecord[], notices: readonly string[] = []): void {
    this.tasks = tasks
    this.notices = notices.slice(-LIVE_NOTICES)
    this.shown = true
    this.screen.draw()
  }

  /** Leaves the live screen and prints the last table (every task, sized to the window) with its notices. */
  stop(): void {
    const {columns} = this.screen.size()
    const final = this.tasks.length
      ? [
          ...layoutTable(LIVE_COLUMNS, liveTaskRows(this.tasks, Date.now()), {
            width: columns,
            header: (h) => chalk.bold(h),
          }),
        ]
      : []
    this.screen.stop([...final, ...this.noticeLines(columns)])
  }

  /** One frame for a window of `size`: status line, header, the tasks that fit, notices. */
  frame(size: ScreenSize, now = Date.now()): string[] {
    const state = !this.shown
      ? 'reading the history...'
      : this.tasks.length === 0
        ? 'no task event yet (Ctrl-C to stop)'
        : watchSummary(this.tasks)
    const status = truncate(statusLine(this.watching.what, this.watching.sites, this.started, state, now), size.columns)
    const notices = this.noticeLines(size.columns)
    if (this.tasks.length === 0) return [status, ...notices]
    // Rows left for tasks: the window less the status line, the header and the notices.
    const room = Math.max(1, size.rows - 2 - notices.length)
    let tasks = this.tasks
    let more: string[] = []
    if (tasks.length > room) {
      const keep = Math.max(0, room - 1)
      const recent = new Set([...tasks].sort((a, b) => compareText(b.updated_at, a.updated_at)).slice(0, keep))
      tasks = tasks.filter((t) => recent.has(t))
      more = [chalk.dim(`(${this.tasks.length - tasks.length} older task(s) not shown)`)]
    }
    const table = layoutTable(LIVE_COLUMNS, liveTaskRows(tasks, now), {
      width: size.columns,
      header: (h) => chalk.bold(h),
    })
    // Each task one screen row, even in a window narrower than the columns' minimum widths.
    return [status, ...table.map((line) => truncate(line, size.columns)), ...more, ...notices]
  }

  /** The notices, one row each, sanitised (they quote what messages said). */
  private noticeLines(columns: number): string[] {
    return this.notices.map((n) => chalk.yellow(truncate(field(n), columns)))
  }
}

/** One line per task event (a scrolling log; `publish --wait`, `task watch` off a TTY): time, site, task, state, percent, message, service. */
export function taskEventLine(term: Terminal, update: TaskUpdate): string {
  const t = update.task
  const percent = percentOf(t)
  const cells = [
    formatClock(term, update.time),
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
