import chalk from 'chalk'

import type {SiteSnapshot} from '../health/snapshot.js'
import type {ScreenSize} from './live.js'
import {layoutTable, truncate, type Column} from './table.js'
import {formatAge} from './terminal.js'
import {field} from './text.js'

/**
 * `dvctl top`: what one frame shows, worked out from plain data, so that it can be drawn by the terminal
 * UI (top-app.ts) and checked by unit tests without a terminal. Every value that came from the network (site
 * names as servers report them, subjects, types, consumer and stream names, task ids, errors) goes through
 * `field` (text.ts) before it is laid out.
 */

/** Something on the screen that can be opened: a dead letter (`dlq show`) or a workflow (`workflow show`). */
export type TopItem =
  | {kind: 'dead-letter'; site: string; ref: string; correlation_id: string | null}
  | {kind: 'task'; site: string; task_id: string; correlation_id: string | null}

/** The whole view's state: the sites, which one is shown, what is selected, and when the data came. */
export interface TopState {
  sites: string[]
  current: number
  /** Index into `items(state)` of the current site. */
  selected: number
  /** Each site's latest health snapshot (health/snapshot.ts: the same facts as check and metrics serve). */
  snapshots: Map<string, SiteSnapshot>
  /** Refs of the dead letters seen in the first snapshot of each site: the others are new since top started. */
  seen: Map<string, Set<string>>
  refreshedAt?: number
  intervalMs: number
  /** A one-line message at the bottom (why an item could not be opened). */
  notice?: string
  /** Text shown in the view itself, scrolled with the keys (when there is no pager). */
  viewer?: TopViewer
}

/** The dead letters top lists per site (newest first); the count says how many more are pending. */
export const TOP_DEAD_LETTERS = 10
/** The stalled tasks top lists per site. */
export const TOP_STALLED_TASKS = 5

export function newTopState(sites: string[], intervalMs: number): TopState {
  return {sites, current: 0, selected: 0, snapshots: new Map(), seen: new Map(), intervalMs}
}

/** A refresh's snapshots: a site's first one decides which dead letters count as already there. */
export function applySnapshots(state: TopState, snapshots: readonly SiteSnapshot[], now = Date.now()): void {
  for (const snapshot of snapshots) {
    state.snapshots.set(snapshot.site, snapshot)
    if (!state.seen.has(snapshot.site) && snapshot.dead_letters)
      state.seen.set(snapshot.site, new Set(snapshot.dead_letters.recent.map((d) => d.ref)))
  }
  state.refreshedAt = now
  state.selected = Math.min(state.selected, Math.max(0, items(state).length - 1))
}

/** The openable rows of the current site, in screen order: its dead letters, then its stalled tasks. */
export function items(state: TopState): TopItem[] {
  const site = state.sites[state.current]
  const snapshot = state.snapshots.get(site)
  if (!snapshot) return []
  return [
    // A dead letter's correlation_id is read from its original when its workflow is opened (top-open.ts).
    ...(snapshot.dead_letters?.recent ?? [])
      .slice(0, TOP_DEAD_LETTERS)
      .map((d): TopItem => ({kind: 'dead-letter', site, ref: d.ref, correlation_id: null})),
    ...(snapshot.tasks?.stalled ?? [])
      .slice(0, TOP_STALLED_TASKS)
      .map((t): TopItem => ({kind: 'task', site, task_id: t.task_id, correlation_id: t.correlation_id})),
  ]
}

export type TopKey =
  'next-site' | 'previous-site' | {site: number} | 'up' | 'down' | 'open' | 'open-workflow' | 'refresh' | 'quit'

/** What a key asks for, once the state has taken it: nothing more, open an item, refresh now, or quit. */
export type TopAction = {open: TopItem; as: 'dead-letter' | 'workflow'} | 'refresh' | 'quit' | undefined

/** Moves the state for a key (site, selection) and says what else the key asks for. */
export function pressKey(state: TopState, key: TopKey): TopAction {
  state.notice = undefined
  const n = state.sites.length
  const switchTo = (index: number) => {
    if (index === state.current) return
    state.current = index
    state.selected = 0
  }
  if (key === 'next-site') switchTo((state.current + 1) % n)
  else if (key === 'previous-site') switchTo((state.current - 1 + n) % n)
  else if (typeof key === 'object') {
    if (key.site < n) switchTo(key.site)
  } else if (key === 'up') state.selected = Math.max(0, state.selected - 1)
  else if (key === 'down') state.selected = Math.min(Math.max(0, items(state).length - 1), state.selected + 1)
  else if (key === 'open' || key === 'open-workflow') {
    const item = items(state)[state.selected]
    if (!item) {
      state.notice = 'Nothing selected: move to a dead letter or a stalled task with the arrow keys.'
      return undefined
    }
    const as = key === 'open' && item.kind === 'dead-letter' ? 'dead-letter' : 'workflow'
    // A dead letter's correlation_id may be known only once its original is read (top-open.ts).
    if (as === 'workflow' && item.kind === 'task' && !item.correlation_id) {
      state.notice = 'This item carries no correlation_id: there is no workflow to show.'
      return undefined
    }
    return {open: item, as}
  } else return key
  return undefined
}

const DEAD_LETTER_COLUMNS: Column[] = [
  {header: 'ref', fit: 'id', min: 12},
  {header: 'age', fit: 'fixed', align: 'right'},
  {header: 'consumer', min: 8},
  {header: 'reason', fit: 'fixed'},
  {header: 'dead-lettered at', fit: 'fixed', optional: true},
]
const CONSUMER_COLUMNS: Column[] = [
  {header: 'stream', min: 6},
  {header: 'consumer', min: 8},
  {header: 'pending', fit: 'fixed', align: 'right'},
  {header: 'ack pending', fit: 'fixed', align: 'right'},
  {header: 'redelivered', fit: 'fixed', align: 'right'},
  {header: 'last delivery', fit: 'fixed', align: 'right', optional: true},
  {header: 'last ack', fit: 'fixed', align: 'right', optional: true},
]
const TASK_COLUMNS: Column[] = [
  {header: 'task', fit: 'id', min: 10},
  {header: 'service', min: 6},
  {header: 'state', fit: 'fixed'},
  {header: 'quiet for', fit: 'fixed', align: 'right'},
  {header: 'correlation', fit: 'id', min: 8, optional: true},
]
const SOURCE_COLUMNS: Column[] = [
  {header: 'stream', min: 6},
  {header: 'source', min: 8},
  {header: 'lag', fit: 'fixed', align: 'right'},
  {header: 'last heard', fit: 'fixed', align: 'right'},
  {header: 'state', min: 6},
]

export const TOP_KEYS = 'tab/←→/1-9 site  ↑↓ select  enter open  w workflow  r refresh  q quit'

const agoOf = (ms: number | null | undefined) => (typeof ms === 'number' ? `${formatAge(ms)} ago` : '-')

/** The tab bar: every site with its pending dead letters (or `down`), the current one highlighted. */
function siteBar(state: TopState): string {
  return state.sites
    .map((site, i) => {
      const snapshot = state.snapshots.get(site)
      const badge = !snapshot
        ? '…'
        : snapshot.error
          ? 'down'
          : snapshot.dead_letters
            ? `${snapshot.dead_letters.pending} dlq`
            : '? dlq'
      const text = `${i + 1} ${field(site)} (${badge})`
      // Brackets mark the current site without colour too (NO_COLOR).
      return i === state.current ? chalk.inverse(`[${text}]`) : snapshot?.error ? chalk.red(` ${text} `) : ` ${text} `
    })
    .join(' ')
    .trimEnd()
}

function section(title: string, table: string[], empty: string): string[] {
  return ['', chalk.bold(title), ...(table.length > 1 ? table.map((l) => `  ${l}`) : [`  ${chalk.dim(empty)}`])]
}

const header = (h: string) => chalk.bold(h)
/** A selectable row: `> ` and inverse when selected. */
const mark = (selected: boolean, line: string) => (selected ? chalk.inverse(`> ${line}`) : `  ${line}`)

/** The pending dead letters of a site, newest first, the ones new since top started marked (and yellow). */
function deadLetterLines(
  state: TopState,
  snapshot: SiteSnapshot,
  selectedItem: TopItem | undefined,
  width: number,
): string[] {
  const dls = snapshot.dead_letters
  if (!dls) return ['', chalk.bold('Dead letters: not read')]
  const seen = state.seen.get(snapshot.site)
  const isNew = (ref: string) => Boolean(seen && !seen.has(ref))
  const fresh = dls.recent.filter((d) => isNew(d.ref)).length
  const oldest = dls.oldest ? `, oldest ${formatAge(dls.oldest.age_ms)}` : ''
  const lines = [
    '',
    chalk.bold(`Dead letters: ${dls.pending} pending${oldest}`) +
      (fresh ? chalk.yellow(`, ${fresh} new since top started`) : ''),
  ]
  const shown = dls.recent.slice(0, TOP_DEAD_LETTERS)
  if (shown.length === 0) return [...lines, `  ${chalk.dim('none pending')}`]
  const table = layoutTable(
    DEAD_LETTER_COLUMNS,
    shown.map((d) => [
      field(d.ref) + (isNew(d.ref) ? ' new' : ''),
      formatAge(d.age_ms),
      field(d.consumer),
      field(d.reason),
      field(d.dead_lettered_at),
    ]),
    {width, header},
  )
  lines.push(`  ${table[0]}`)
  table.slice(1).forEach((line, i) => {
    const d = shown[i]
    const selected = selectedItem?.kind === 'dead-letter' && selectedItem.ref === d.ref
    lines.push(mark(selected, isNew(d.ref) ? chalk.yellow(line) : line))
  })
  if (dls.pending > shown.length)
    lines.push(chalk.dim(`  … ${dls.pending - shown.length} more: dvctl dlq list --site ${field(snapshot.site)}`))
  return lines
}

/** Tasks by state, and the stalled ones (the longest quiet first). */
function taskLines(snapshot: SiteSnapshot, selectedItem: TopItem | undefined, width: number): string[] {
  const tasks = snapshot.tasks
  if (!tasks) return ['', chalk.bold('Tasks: not read')]
  const states = Object.entries(tasks.by_state)
    .filter(([, n]) => n > 0)
    .map(([s, n]) => `${n} ${field(s)}`)
  const lines = [
    '',
    chalk.bold(`Tasks: ${states.length ? states.join(', ') : 'none'}`) +
      (tasks.stalled_count
        ? chalk.red(`; ${tasks.stalled_count} stalled (no event for ${formatAge(tasks.stalled_after_ms)})`)
        : ''),
  ]
  const shown = tasks.stalled.slice(0, TOP_STALLED_TASKS)
  if (shown.length === 0) return lines
  const table = layoutTable(
    TASK_COLUMNS,
    shown.map((t) => [
      field(t.task_id),
      field(t.service ?? '-'),
      field(t.state),
      formatAge(t.idle_ms),
      field(t.correlation_id ?? '-'),
    ]),
    {width, header},
  )
  lines.push(`  ${table[0]}`)
  table.slice(1).forEach((line, i) => {
    lines.push(mark(selectedItem?.kind === 'task' && selectedItem.task_id === shown[i].task_id, line))
  })
  return lines
}

/**
 * One frame: a title, the site tabs, the current site's dead letters, consumers, tasks and sources, and the
 * keys; at most `size.rows - 1` lines of at most `size.columns` columns (the last row stays free, so the
 * terminal never scrolls).
 */
export function topFrame(state: TopState, size: ScreenSize, now = Date.now()): string[] {
  const width = Math.max(20, size.columns)
  const site = state.sites[state.current]
  const snapshot = state.snapshots.get(site)
  const refreshed = state.refreshedAt === undefined ? 'reading…' : `refreshed ${formatAge(now - state.refreshedAt)} ago`
  const head = [
    chalk.bold('dvctl top') +
      chalk.dim(
        `  ${refreshed}, every ${state.intervalMs < 1000 ? `${state.intervalMs}ms` : formatAge(state.intervalMs)}`,
      ),
    siteBar(state),
  ]
  const body: string[] = []
  const selectedItem = items(state)[state.selected]
  const tableWidth = width - 4
  if (!snapshot) body.push('', chalk.dim(`Reading ${field(site)}…`))
  // The error names the site already; a site that could not be read has nothing else to show.
  else if (snapshot.error) body.push('', chalk.red(field(snapshot.error)))
  else {
    for (const e of snapshot.errors) body.push(chalk.yellow(`${field(e.part)} not read: ${field(e.message)}`))
    body.push(...deadLetterLines(state, snapshot, selectedItem, tableWidth))

    const consumers = layoutTable(
      CONSUMER_COLUMNS,
      snapshot.consumers.map((c) => [
        field(c.stream),
        field(c.name),
        String(c.pending),
        String(c.ack_pending),
        String(c.redelivered),
        agoOf(c.last_delivery_age_ms),
        agoOf(c.last_ack_age_ms),
      ]),
      {width: tableWidth, header},
    )
    body.push(...section('Consumers', consumers, 'no service consumer'))
    body.push(...taskLines(snapshot, selectedItem, tableWidth))

    const sources = layoutTable(
      SOURCE_COLUMNS,
      snapshot.sources.map((s) => [
        field(s.stream),
        field(s.source),
        String(s.lag),
        s.active_ms === null ? 'never' : `${formatAge(s.active_ms)} ago`,
        s.error ? field(s.error) : s.stalled ? 'stalled' : 'ok',
      ]),
      {width: tableWidth, header},
    )
    body.push(...section('Sources', sources, 'no cross-site source'))
  }
  const foot = [state.notice ? chalk.yellow(field(state.notice)) : chalk.dim(TOP_KEYS)]
  // The body gives way from the bottom; the title, the tabs and the keys always stay.
  const room = Math.max(0, size.rows - 1 - head.length - foot.length)
  const shown = body.length > room ? [...body.slice(0, Math.max(0, room - 1)), chalk.dim('…')] : body
  return [...head, ...(room > 0 ? shown : []), ...foot]
    .slice(0, Math.max(1, size.rows - 1))
    .map((line) => truncate(line, width))
}

/** Text shown in top itself when there is no pager: its lines, and the first one on screen. */
export interface TopViewer {
  title: string
  lines: string[]
  top: number
}

export const VIEWER_KEYS = '↑↓ pgup/pgdn space scroll  g/G start/end  q/esc back'

/** Rows of text a viewer shows in a window of `size`: less the title, the keys and the free last row. */
const viewerRows = (size: ScreenSize) => Math.max(1, size.rows - 3)

/** Scrolls a viewer by `delta` lines (or to `'start'`/`'end'`), kept within its text. */
export function scrollViewer(viewer: TopViewer, delta: number | 'start' | 'end', size: ScreenSize): void {
  const last = Math.max(0, viewer.lines.length - viewerRows(size))
  const next = delta === 'start' ? 0 : delta === 'end' ? last : viewer.top + delta
  viewer.top = Math.min(last, Math.max(0, next))
}

/** One frame of the viewer: title, the lines from `top` cut to the width, where it is, the keys. */
export function viewerFrame(viewer: TopViewer, size: ScreenSize): string[] {
  const rows = viewerRows(size)
  const shown = viewer.lines.slice(viewer.top, viewer.top + rows)
  const end = Math.min(viewer.lines.length, viewer.top + rows)
  const where = `lines ${viewer.lines.length ? viewer.top + 1 : 0}-${end} of ${viewer.lines.length}`
  return [chalk.bold(field(viewer.title)), ...shown, chalk.dim(`${where}  ${VIEWER_KEYS}`)].map((line) =>
    truncate(line, Math.max(1, size.columns)),
  )
}
