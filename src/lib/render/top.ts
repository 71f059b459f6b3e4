import chalk from 'chalk'

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

/** A pending dead letter as top lists it. */
export interface TopDeadLetter {
  ref: string
  consumer: string
  reason: string
  dead_lettered_at: string
  type: string | null
  subject: string | null
  correlation_id: string | null
}

/** A task that started and has not progressed for longer than the stall threshold. */
export interface TopStalledTask {
  task_id: string
  service: string
  state: string
  /** Time of its last lifecycle event. */
  last_event_at: string
  correlation_id: string | null
}

export interface TopConsumer {
  stream: string
  name: string
  /** Not yet delivered. */
  pending: number
  /** Delivered, not yet acknowledged. */
  ack_pending: number
  /** Delivered more than once and not yet acknowledged. */
  redelivered: number
}

export interface TopSource {
  stream: string
  source: string
  lag: number
  /** Since it last heard anything from its origin; null when never. */
  active_ms: number | null
  stalled: boolean
  error: string | null
}

/** One site's data for one refresh: what the health snapshot service collects (see src/commands/top.ts). */
export interface TopSiteSnapshot {
  site: string
  /** Why this refresh of the site failed (unreachable, no JetStream...); the parts below may then be empty. */
  error?: string
  dead_letters: {pending: number; oldest_age_ms: number | null; recent: TopDeadLetter[]}
  consumers: TopConsumer[]
  tasks: {by_state: Record<string, number>; stalled: TopStalledTask[]}
  sources: TopSource[]
}

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
  snapshots: Map<string, TopSiteSnapshot>
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
export function applySnapshots(state: TopState, snapshots: readonly TopSiteSnapshot[], now = Date.now()): void {
  for (const snapshot of snapshots) {
    state.snapshots.set(snapshot.site, snapshot)
    if (!state.seen.has(snapshot.site) && !snapshot.error)
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
    ...snapshot.dead_letters.recent
      .slice(0, TOP_DEAD_LETTERS)
      .map((d): TopItem => ({kind: 'dead-letter', site, ref: d.ref, correlation_id: d.correlation_id})),
    ...snapshot.tasks.stalled
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
  {header: 'type', min: 8},
  {header: 'correlation', fit: 'id', min: 8, optional: true},
]
const CONSUMER_COLUMNS: Column[] = [
  {header: 'stream', min: 6},
  {header: 'consumer', min: 8},
  {header: 'pending', fit: 'fixed', align: 'right'},
  {header: 'ack pending', fit: 'fixed', align: 'right'},
  {header: 'redelivered', fit: 'fixed', align: 'right'},
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

const ageOf = (time: string, now: number) => {
  const at = Date.parse(time)
  return Number.isNaN(at) ? '-' : formatAge(now - at)
}

/** The tab bar: every site with its pending dead letters (or `down`), the current one highlighted. */
function siteBar(state: TopState): string {
  return state.sites
    .map((site, i) => {
      const snapshot = state.snapshots.get(site)
      const badge = !snapshot ? '…' : snapshot.error ? 'down' : `${snapshot.dead_letters.pending} dlq`
      const text = `${i + 1} ${field(site)} (${badge})`
      // Brackets mark the current site without colour too (NO_COLOR).
      return i === state.current ? chalk.inverse(`[${text}]`) : snapshot?.error ? chalk.red(` ${text} `) : ` ${text} `
    })
    .join(' ')
}

function section(title: string, table: string[], empty: string): string[] {
  return ['', chalk.bold(title), ...(table.length > 1 ? table.map((l) => `  ${l}`) : [`  ${chalk.dim(empty)}`])]
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
  const mark = (selected: boolean, line: string) => (selected ? chalk.inverse(`> ${line}`) : `  ${line}`)
  const tableWidth = width - 4
  const header = (h: string) => chalk.bold(h)
  if (!snapshot) body.push('', chalk.dim(`Reading ${field(site)}…`))
  else {
    if (snapshot.error) body.push('', chalk.red(`Site ${field(site)}: ${field(snapshot.error)}`))
    const seen = state.seen.get(site)
    const dls = snapshot.dead_letters
    const fresh = dls.recent.filter((d) => seen && !seen.has(d.ref)).length
    const oldest = dls.oldest_age_ms === null ? '' : `, oldest ${formatAge(dls.oldest_age_ms)}`
    const shownDls = dls.recent.slice(0, TOP_DEAD_LETTERS)
    const dlTable = layoutTable(
      DEAD_LETTER_COLUMNS,
      shownDls.map((d) => [
        field(d.ref) + (seen && !seen.has(d.ref) ? ' new' : ''),
        ageOf(d.dead_lettered_at, now),
        field(d.consumer),
        field(d.reason),
        field(d.type ?? d.subject ?? '-'),
        field(d.correlation_id ?? '-'),
      ]),
      {width: tableWidth, header},
    )
    body.push(
      '',
      chalk.bold(`Dead letters: ${dls.pending} pending${oldest}`) +
        (fresh ? chalk.yellow(`, ${fresh} new since top started`) : ''),
    )
    if (shownDls.length === 0) body.push(`  ${chalk.dim('none pending')}`)
    else {
      body.push(`  ${dlTable[0]}`)
      dlTable.slice(1).forEach((line, i) => {
        const d = shownDls[i]
        const selected = selectedItem?.kind === 'dead-letter' && selectedItem.ref === d.ref
        body.push(mark(selected, seen && !seen.has(d.ref) ? chalk.yellow(line) : line))
      })
      if (dls.pending > shownDls.length)
        body.push(chalk.dim(`  … ${dls.pending - shownDls.length} more (dvctl dlq list --site ${field(site)})`))
    }

    const consumers = layoutTable(
      CONSUMER_COLUMNS,
      snapshot.consumers.map((c) => [
        field(c.stream),
        field(c.name),
        String(c.pending),
        String(c.ack_pending),
        String(c.redelivered),
      ]),
      {width: tableWidth, header},
    )
    body.push(...section('Consumers', consumers, 'no service consumer'))

    const states = Object.entries(snapshot.tasks.by_state)
      .filter(([, n]) => n > 0)
      .map(([s, n]) => `${n} ${field(s)}`)
    const stalled = snapshot.tasks.stalled
    body.push(
      '',
      chalk.bold(`Tasks: ${states.length ? states.join(', ') : 'none'}`) +
        (stalled.length ? chalk.red(`; ${stalled.length} stalled`) : ''),
    )
    const shownStalled = stalled.slice(0, TOP_STALLED_TASKS)
    if (shownStalled.length) {
      const taskTable = layoutTable(
        TASK_COLUMNS,
        shownStalled.map((t) => [
          field(t.task_id),
          field(t.service),
          field(t.state),
          ageOf(t.last_event_at, now),
          field(t.correlation_id ?? '-'),
        ]),
        {width: tableWidth, header},
      )
      body.push(`  ${taskTable[0]}`)
      taskTable.slice(1).forEach((line, i) => {
        const t = shownStalled[i]
        body.push(mark(selectedItem?.kind === 'task' && selectedItem.task_id === t.task_id, line))
      })
    }

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
