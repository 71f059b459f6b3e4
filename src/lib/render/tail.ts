import chalk from 'chalk'

import type {TailEvent} from '../workflow/tail.js'
import {renderSiteNotice, shortId} from './workflow.js'
import {err, formatTime, jsonLine, out, type Terminal} from './terminal.js'

const clip = (text: string, max: number) => (text.length > max ? `${text.slice(0, max - 1)}…` : text)

/** A few words about `data`: the task state and progress or error, else compact JSON. */
export function summarizeData(subject: string, data: unknown): string {
  if (!data || typeof data !== 'object') return ''
  const d = data as {
    state?: unknown
    progress?: {percent?: unknown; message?: unknown}
    error?: {code?: unknown; message?: unknown}
  }
  if (subject.startsWith('dv.task.evt.') && typeof d.state === 'string') {
    const parts = [d.state]
    if (typeof d.progress?.percent === 'number') parts.push(`${d.progress.percent}%`)
    if (typeof d.progress?.message === 'string') parts.push(d.progress.message)
    if (d.error) parts.push(`error ${String(d.error.code ?? '')}: ${String(d.error.message ?? '')}`)
    return clip(parts.join(' '), 100)
  }
  return clip(JSON.stringify(data), 80)
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
        chalk.dim(formatTime(term, event.time)),
        chalk.cyan(event.site),
        event.subject,
        String(e.type ?? '-'),
        chalk.dim(shortId(String(e.id ?? '-'))),
        chalk.dim(`corr=${shortId(String(e.correlation_id ?? '-'))}`),
        summarizeData(event.subject, e.data),
      ]
      out(cols.join('  '))
      if (options.headers && event.headers)
        for (const [k, v] of Object.entries(event.headers)) out(`    ${k}: ${v.join(', ')}`)
      return
    }
    case 'invalid': {
      const {kind: _kind, ...line} = event
      if (term.json) return jsonLine(line)
      const problems = event.problems.map((p) => `${p.code} at ${p.path}: ${p.message}`).join('; ')
      out(
        [
          chalk.dim(formatTime(term, event.time)),
          chalk.cyan(event.site),
          event.subject,
          chalk.red.bold('INVALID'),
          chalk.red(problems),
          chalk.dim(`raw=${clip(JSON.stringify(event.raw), 80)}`),
        ].join('  '),
      )
      return
    }
    case 'caught-up':
      if (options.follow) err('Waiting for new messages (Ctrl-C to stop)...')
      return
    default:
      return renderSiteNotice(event)
  }
}
