import chalk from 'chalk'

import type {TailEvent} from '../workflow/tail.js'
import {renderSiteNotice, shortId} from './workflow.js'
import {path, prop} from '../value.js'
import {err, formatClock, jsonLine, out, type Terminal} from './terminal.js'
import {clip, field, safeText} from './text.js'

/**
 * A few words about `data`: the task state and progress or error, else compact JSON, cut short. Reads
 * only own data properties and never recurses on the value (a message may nest 20,000 levels deep).
 * Not sanitised: the renderer does that with the rest of the line.
 */
export function summarizeData(subject: string, data: unknown): string {
  if (!data || typeof data !== 'object') return ''
  const state = prop(data, 'state')
  if (subject.startsWith('dv.task.evt.') && typeof state === 'string') {
    const parts = [state]
    const percent = path(data, 'progress', 'percent')
    const message = path(data, 'progress', 'message')
    const error = prop(data, 'error')
    if (typeof percent === 'number') parts.push(`${percent}%`)
    if (typeof message === 'string') parts.push(message)
    if (error)
      parts.push(`error ${safeText(prop(error, 'code') ?? '', 100)}: ${safeText(prop(error, 'message') ?? '', 100)}`)
    return clip(parts.join(' '), 100)
  }
  return safeText(data, 80)
}

/** One message per line (NDJSON with --json); notices about sites go to stderr. */
export function renderTailEvent(
  term: Terminal,
  event: TailEvent,
  options: {headers?: boolean; follow?: boolean} = {},
): void {
  switch (event.kind) {
    case 'message': {
      const {kind: _kind, ...line} = event
      if (term.json) return jsonLine(line)
      const e = event.envelope
      const cols = [
        chalk.dim(formatClock(term, event.time)),
        chalk.cyan(field(event.site)),
        field(event.subject),
        field(prop(e, 'type') ?? '-'),
        chalk.dim(shortId(prop(e, 'id') ?? '-')),
        chalk.dim(`corr=${shortId(prop(e, 'correlation_id') ?? '-')}`),
        field(summarizeData(safeText(event.subject), prop(e, 'data'))),
      ]
      out(cols.join('  '))
      if (options.headers && event.headers) renderHeaders(event.headers)
      return
    }
    case 'invalid': {
      const {kind: _kind, ...line} = event
      if (term.json) return jsonLine(line)
      const problems = event.problems.map((p) => `${field(p.code)} at ${field(p.path)}: ${field(p.message)}`).join('; ')
      out(
        [
          chalk.dim(formatClock(term, event.time)),
          chalk.cyan(field(event.site)),
          field(event.subject),
          chalk.red.bold('INVALID'),
          chalk.red(problems),
          chalk.dim(`raw=${field(JSON.stringify(safeText(event.raw, 200)), 80)}`),
        ].join('  '),
      )
      if (options.headers && event.headers) renderHeaders(event.headers)
      return
    }
    case 'caught-up':
      if (options.follow) err('Waiting for new messages (Ctrl-C to stop)...')
      return
    default:
      return renderSiteNotice(event)
  }
}

/** `--headers`: one indented line per header value, names and values sanitised. */
function renderHeaders(headers: Record<string, string[]>): void {
  for (const [k, values] of Object.entries(headers))
    out(`    ${field(k)}: ${(Array.isArray(values) ? values : [values]).map((v) => field(v)).join(', ')}`)
}
