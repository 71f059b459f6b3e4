import chalk from 'chalk'

import type {WorkflowFollowEvent} from '../workflow/follow.js'
import type {TailEvent} from '../workflow/tail.js'
import type {WorkflowResult} from '../workflow/read.js'
import {
  isFailure,
  subtreeStats,
  taskVerb,
  walkTree,
  type CausationNode,
  type WorkflowMessage,
} from '../workflow/tree.js'
import {path} from '../value.js'
import {LiveScreen, statusLine, type ScreenSize} from './live.js'
import {truncate} from './table.js'
import {err, jsonLine, out, warn, type Terminal} from './terminal.js'
import {field} from './text.js'

type SiteNotice = Extract<TailEvent, {kind: 'site-down' | 'site-up' | 'site-error' | 'stream-missing' | 'note'}>

export type WorkflowView = 'tree' | 'timeline'

/** `+1.250s`, `+2m03s`, `+1h05m`: an offset from the workflow's first message. */
export function formatOffset(millis: number): string {
  const sign = millis < 0 ? '-' : '+'
  const ms = Math.abs(millis)
  if (ms < 60_000) return `${sign}${(ms / 1000).toFixed(3)}s`
  const s = Math.floor(ms / 1000)
  if (s < 3600) return `${sign}${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`
  return `${sign}${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`
}

/** The first 8 characters of a long id (a UUID), sanitised: ids come from the messages. */
export const shortId = (id: unknown) => {
  const text = field(id)
  return text.length > 12 ? text.slice(0, 8) : text
}

/** Levels of the causation tree drawn as text; deeper levels are folded into one line with their counts. */
export const TREE_TEXT_DEPTH = 20

/** An optional detail (an error's message or code) as text, or undefined when absent or empty. */
const detail = (value: unknown) =>
  value === undefined || value === null || value === '' ? undefined : field(value, 200)

/** The time every offset is measured from: the first root, else the first message. */
export function workflowOrigin(result: Pick<WorkflowResult, 'messages' | 'roots'>): number {
  const root = result.messages.find((m) => result.roots.includes(m.id)) ?? result.messages[0]
  return root ? timeOf(root.time) : 0
}

/** Milliseconds of a message time (an RFC 3339 string dvctl wrote), NaN for anything else. */
const timeOf = (time: unknown) => (typeof time === 'string' ? Date.parse(time) : NaN)

function marks(result: WorkflowResult, m: WorkflowMessage): string[] {
  const list: string[] = []
  const verb = taskVerb(m)
  if (verb) {
    const percent = path(m.envelope, 'data', 'progress', 'percent')
    list.push(`[task ${field(verb)}${typeof percent === 'number' ? ` ${field(percent)}%` : ''}]`)
  }
  if (isFailure(m)) {
    const why =
      detail(path(m.envelope, 'data', 'error', 'message')) ?? detail(path(m.envelope, 'data', 'error', 'code'))
    list.push(chalk.red(`✗ ${field(verb)}${why ? `: ${why}` : ''}`))
  }
  for (const d of result.dead_letters) {
    if (d.site === m.site && d.stream === m.stream && d.seq === m.seq)
      list.push(
        chalk.red.bold(
          `☠ dead letter (${field(d.reason)}${d.deliveries ? `, ${field(d.deliveries)} deliveries` : ''})`,
        ),
      )
  }
  if (result.orphans.includes(m.id)) list.push(chalk.yellow(`? parent not seen (${field(m.causation_id)})`))
  const dup = result.duplicates.find((d) => d.id === m.id)
  if (dup) list.push(chalk.dim(`×${field(dup.count)} delivered`))
  return list
}

function messageLine(result: WorkflowResult, m: WorkflowMessage, origin: number, treePrefix = ''): string {
  return [
    `${chalk.dim(formatOffset(timeOf(m.time) - origin).padStart(9))}  ${chalk.dim(treePrefix)}${chalk.cyan(field(m.site))}`,
    field(m.subject),
    m.type === null || m.type === undefined ? chalk.dim('(no type)') : field(m.type),
    chalk.dim(shortId(m.id)),
    ...marks(result, m),
  ].join('  ')
}

function header(result: WorkflowResult): string {
  const colour = result.status === 'succeeded' ? chalk.green : result.status === 'running' ? chalk.blue : chalk.red.bold
  const sites = result.sites.map((s) => (s.error ? `${field(s.site)} (unreachable)` : field(s.site))).join(', ')
  return (
    `${chalk.bold('Workflow')} ${field(result.correlation_id)}  ${colour(field(result.status))}  ` +
    `${result.messages.length} messages on ${sites}, from ${field(result.messages[0]?.time ?? '-')}`
  )
}

function footer(result: WorkflowResult): string[] {
  const parts: string[] = []
  if (result.tasks.length)
    parts.push(`tasks: ${result.tasks.map((t) => `${field(t.task_id)} ${field(t.state)}`).join(', ')}`)
  if (result.dead_letters.length)
    parts.push(chalk.red(`dead letters: ${result.dead_letters.map((d) => field(d.ref)).join(', ')}`))
  if (result.orphans.length) parts.push(chalk.yellow(`orphans: ${result.orphans.length} (parent not seen)`))
  if (result.duplicates.length)
    parts.push(`duplicates: ${result.duplicates.reduce((n, d) => n + d.count - 1, 0)} extra deliveries`)
  return parts
}

const count = (n: number) => n.toLocaleString('en-US')

/**
 * The causation tree, one message a line, indented under its cause. Levels below TREE_TEXT_DEPTH are
 * folded into one line, `… 4,980 more levels (4,980 messages; --view timeline lists them)`, so that a
 * runaway chain of causes neither floods the terminal nor indents off it.
 */
export function renderWorkflowTree(term: Terminal, result: WorkflowResult): void {
  for (const line of workflowTreeLines(result)) out(line)
}

/** The lines of the causation tree (renderWorkflowTree). */
export function workflowTreeLines(result: WorkflowResult): string[] {
  const lines = [header(result)]
  const byId = new Map(result.messages.map((m) => [m.id, m]))
  const origin = workflowOrigin(result)
  const indentOf = (ancestorsLast: boolean[]) =>
    ancestorsLast
      .slice(1)
      .map((l) => (l ? '   ' : '│  '))
      .join('')
  walkTree(result.tree, (node: CausationNode, depth, last, ancestorsLast) => {
    const m = byId.get(node.id)
    if (!m) return true
    const prefix = depth === 0 ? '' : indentOf(ancestorsLast) + (last ? '└─ ' : '├─ ')
    lines.push(messageLine(result, m, origin, prefix))
    if (depth < TREE_TEXT_DEPTH - 1 && !node.folded) return true
    if (node.children.length === 0 && !node.folded) return false
    const below = subtreeStats(node)
    const marker = `… ${count(below.levels)} more level${below.levels === 1 ? '' : 's'} (${count(below.messages)} message${below.messages === 1 ? '' : 's'}; --view timeline lists them)`
    const inner = depth === 0 ? '' : indentOf([...ancestorsLast, last])
    lines.push(`${' '.repeat(9)}  ${chalk.dim(`${inner}└─ ${marker}`)}`)
    return false
  })
  return [...lines, ...footer(result)]
}

/** Every message in time order, with its cause. */
export function renderWorkflowTimeline(term: Terminal, result: WorkflowResult): void {
  for (const line of workflowTimelineLines(result)) out(line)
}

/** The lines of the timeline (renderWorkflowTimeline). */
export function workflowTimelineLines(result: WorkflowResult): string[] {
  const origin = workflowOrigin(result)
  const lines = result.messages.map((m) => {
    const cause = m.causation_id ? chalk.dim(` ← ${shortId(m.causation_id)}`) : ''
    return `${field(m.time)}  ${messageLine(result, m, origin)}${cause}`
  })
  return [header(result), ...lines, ...footer(result)]
}

export function renderWorkflow(term: Terminal, result: WorkflowResult, view: WorkflowView): void {
  for (const line of workflowLines(result, view)) out(line)
}

export function workflowLines(result: WorkflowResult, view: WorkflowView): string[] {
  return view === 'timeline' ? workflowTimelineLines(result) : workflowTreeLines(result)
}

/**
 * `workflow show --follow` off a terminal, a scrolling log: each new message is one more line (with its
 * cause), and with --json one NDJSON object: the first is the whole workflow, the next ones each new
 * message with the workflow's status. On a terminal the tree is a live view instead (LiveWorkflow).
 */
export function renderWorkflowFollow(term: Terminal, event: WorkflowFollowEvent, view: WorkflowView): void {
  switch (event.kind) {
    case 'snapshot':
      if (term.json) return jsonLine(event.result)
      if (event.result.messages.length) renderWorkflow(term, event.result, view)
      else err(`No message of ${field(event.result.correlation_id)} yet; waiting (Ctrl-C to stop)...`)
      return
    case 'message': {
      const {message: m, result} = event
      const parentSeen = m.causation_id ? result.messages.some((x) => x.id === m.causation_id) : null
      if (term.json) return jsonLine({...m, parent_seen: parentSeen, status: result.status})
      const cause = m.causation_id ? chalk.dim(` ← ${shortId(m.causation_id)}`) : ''
      out(`${messageLine(result, m, workflowOrigin(result))}${cause}  [${field(result.status)}]`)
      return
    }
    case 'dead-letter': {
      const d = event.deadLetter
      if (term.json) return jsonLine({dead_letter: d, status: event.result.status})
      out(
        chalk.red.bold(
          `☠ dead letter ${field(d.ref)} (${field(d.reason)}, consumer ${field(d.consumer)}) of ${shortId(d.id)}  [${field(event.result.status)}]`,
        ),
      )
      return
    }
    default:
      return renderSiteNotice(event)
  }
}

/** Site notices kept under the live tree (the latest). */
const LIVE_NOTICES = 5

/**
 * `workflow show --follow` on a terminal: the tree (or timeline) as a full-screen view redrawn in place
 * (live.ts), under a status line saying what is followed, on which sites and for how long. A tree taller
 * than the window shows its newest end; when the follow stops, the whole tree is printed once.
 */
export class LiveWorkflow {
  private result?: WorkflowResult
  private notices: string[] = []
  private readonly started = Date.now()
  private readonly screen = new LiveScreen((size) => this.frame(size), {
    keep: 2,
    from: 'end',
    more: (n) => `… ${n} earlier line${n === 1 ? '' : 's'} (all of it is printed when you stop)`,
  })

  constructor(
    private readonly view: WorkflowView,
    private readonly watching: {correlationId: string; sites: readonly string[]},
  ) {}

  start(): void {
    this.screen.start()
  }

  show(event: WorkflowFollowEvent): void {
    switch (event.kind) {
      case 'snapshot':
      case 'message':
      case 'dead-letter':
        this.result = event.result
        break
      default:
        this.notices = [...this.notices, siteNoticeText(event)].slice(-LIVE_NOTICES)
    }
    this.screen.draw()
  }

  /** Leaves the live screen and prints the workflow as it stands (and the notices) on the user's screen. */
  stop(): void {
    const lines = this.result?.messages.length ? workflowLines(this.result, this.view) : []
    this.screen.stop([...lines, ...this.notices.map((n) => chalk.yellow(n))])
  }

  /** One frame: status line, then the workflow's lines (fitted to the window by the screen), then notices. */
  frame(size: ScreenSize, now = Date.now()): string[] {
    const r = this.result
    const state =
      r === undefined
        ? 'reading the history...'
        : r.messages.length === 0
          ? 'no message yet (Ctrl-C to stop)'
          : `${r.messages.length} message${r.messages.length === 1 ? '' : 's'}, ${field(r.status)}`
    const what = `workflow ${shortId(this.watching.correlationId)}`
    const status = truncate(statusLine(what, this.watching.sites, this.started, state, now), size.columns)
    const body = r?.messages.length ? workflowLines(r, this.view) : []
    return [status, ...body, ...this.notices.map((n) => chalk.yellow(truncate(n, size.columns)))]
  }
}

/** A site notice as one line of text (field-sanitised; a warning's `Warning:` prefix is the caller's). */
export function siteNoticeText(event: SiteNotice): string {
  switch (event.kind) {
    case 'site-down':
      return `site ${field(event.site)} disconnected; waiting for it to come back (messages resume from the last one seen)`
    case 'site-up':
      return `site ${field(event.site)} reconnected; resuming`
    case 'stream-missing':
      return `site ${field(event.site)} has no stream ${field(event.stream)} (skipped)`
    case 'site-error':
      return `site ${field(event.site)}: ${field(event.error)} (skipped)`
    case 'note':
      return field(event.message)
  }
}

/** What happened to a site during a live read (tail, workflow show --follow): always on stderr. */
export function renderSiteNotice(event: SiteNotice): void {
  if (event.kind === 'site-up') err(siteNoticeText(event))
  else warn(siteNoticeText(event))
}
