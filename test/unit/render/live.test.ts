// Live views (issue 15, item 3): frames fitted to the window's rows with wrapping counted, drawn on the
// alternate screen and redrawn on resize, the user's scrollback left alone; scrolling logs print clock times.
// Output is replayed onto a small terminal emulator (test/helpers/screen.ts) to see what the user sees.
import {describe, expect, it} from 'vitest'

import {withContext} from '../../../src/lib/context.js'
import {fitLines, paintFrame, screenRows} from '../../../src/lib/render/live.js'
import {memoryOutput} from '../../../src/lib/render/output.js'
import {LiveTaskTable} from '../../../src/lib/render/tasks.js'
import {formatClock, type Terminal} from '../../../src/lib/render/terminal.js'
import {LiveWorkflow} from '../../../src/lib/render/workflow.js'
import {TaskBoard} from '../../../src/lib/tasks/board.js'
import {assembleWorkflow} from '../../../src/lib/workflow/read.js'
import type {WorkflowMessage} from '../../../src/lib/workflow/tree.js'
import {Screen} from '../../helpers/screen.js'

const tty: Terminal = {json: false, stdoutTTY: true, stdinTTY: true, color: false, interactive: false}
const piped: Terminal = {...tty, stdoutTTY: false, stdinTTY: false}

const LONG = 'rack osl1-r07 refused the server: '.padEnd(300, 'x')

/** A board of `n` tasks, every one failed with a 300-character message. */
function failedBoard(n: number): TaskBoard {
  const board = new TaskBoard()
  for (let i = 0; i < n; i++) {
    const id = `task-${String(i).padStart(3, '0')}`
    const envelope = {
      source: 'maskin',
      subject: id,
      data: {task_id: id, state: 'failed', error: {code: 'no-capacity', message: LONG}},
    }
    board.apply({site: 'osl1', time: new Date().toISOString(), subject: 'dv.task.evt.failed', envelope})
  }
  return board
}

const headerCount = (lines: string[]) => lines.filter((l) => /^task\s+service\s+state\s+progress/.test(l)).length

describe('fitting a frame to the window', () => {
  it('counts the screen rows a line takes, wrapping and wide characters included', () => {
    expect(screenRows('', 80)).toBe(1)
    expect(screenRows('x'.repeat(80), 80)).toBe(1)
    expect(screenRows('x'.repeat(81), 80)).toBe(2)
    expect(screenRows('x'.repeat(300), 80)).toBe(4)
    // A wide character that does not fit in the last column wraps whole.
    expect(screenRows('x'.repeat(79) + '界', 80)).toBe(2)
    expect(screenRows('\u001b[31m' + 'x'.repeat(80) + '\u001b[39m', 80)).toBe(1)
  })

  it('keeps a frame within the window: head lines kept, the newest end kept when asked, a line for the rest', () => {
    const lines = [
      'status',
      'header',
      ...Array.from({length: 50}, (_, i) => `line ${i} ${'y'.repeat(i % 3 === 0 ? 150 : 10)}`),
    ]
    const rowsOf = (ls: string[]) => ls.reduce((n, l) => n + screenRows(l, 80), 0)
    const start = fitLines(lines, {columns: 80, rows: 24}, {keep: 2})
    expect(rowsOf(start)).toBeLessThanOrEqual(24)
    expect(start.slice(0, 3)).toEqual(['status', 'header', lines[2]])
    expect(start.at(-1)).toMatch(/^… \d+ more lines$/)
    const end = fitLines(lines, {columns: 80, rows: 24}, {keep: 2, from: 'end', more: (n) => `${n} earlier`})
    expect(rowsOf(end)).toBeLessThanOrEqual(24)
    expect(end.at(-1)).toBe(lines.at(-1))
    expect(end[2]).toMatch(/^\d+ earlier$/)
    // Short frames are left alone.
    expect(fitLines(['a', 'b'], {columns: 80, rows: 24})).toEqual(['a', 'b'])
  })

  it('paints over the previous frame without erasing the last column of a full-width line', () => {
    const screen = new Screen(20, 5)
    screen.write(paintFrame(['a'.repeat(30), 'b'.repeat(20), 'c'], {columns: 20, rows: 5}))
    screen.write(paintFrame(['x', 'y'.repeat(20)], {columns: 20, rows: 5}))
    expect(screen.lines()).toEqual(['x', 'y'.repeat(20), '', '', ''])
    // A frame of exactly the window's height does not scroll it.
    screen.write(paintFrame(['1', '2', '3', '4', '5'.repeat(20)], {columns: 20, rows: 5}))
    expect(screen.lines()).toEqual(['1', '2', '3', '4', '5'.repeat(20)])
    expect(screen.scrollback).toEqual([])
  })
})

describe('LiveTaskTable on a terminal', () => {
  it('at 80x24 with 300-character failures: every frame within the window, one header left in the scrollback', () => {
    const output = memoryOutput({tty: true, columns: 80, rows: 24})
    const screen = new Screen(80, 24)
    // What the user had on the screen before the watch.
    screen.write(Array.from({length: 30}, (_, i) => `earlier output ${i}\r\n`).join(''))
    const before = screen.history()
    let seen = 0
    const feed = () => {
      const text = output.stdout().slice(seen)
      seen += text.length
      screen.write(text)
    }
    const board = failedBoard(40)
    withContext({output, env: {}}, () => {
      const live = new LiveTaskTable({what: 'tasks of service maskin', sites: ['osl1', 'trd1']})
      live.start()
      feed()
      // Nothing yet: the status line says what is watched, where, and for how long.
      expect(screen.lines()[0]).toMatch(/^Watching tasks of service maskin on osl1, trd1 for 0s; reading the history/)
      live.update([], [])
      feed()
      expect(screen.lines()[0]).toContain('no task event yet')
      for (let i = 1; i <= 40; i++) {
        live.update(board.tasks().slice(0, i), i > 30 ? [`illegal transition: ${LONG}`] : [])
        feed()
        const visible = screen.lines()
        expect(headerCount(visible)).toBe(1)
        // Every task is one row, cut with an ellipsis; the window holds the whole frame.
        const rows = visible.filter((l) => l.startsWith('task-'))
        expect(rows.length).toBeGreaterThan(0)
        for (const row of rows) expect(row).toMatch(/^task-\d{3} +maskin +failed +no-capacity: .*… +\d+s +osl1$/)
        if (i === 20) {
          output.resize(100, 30)
          screen.resize(100, 30)
          feed()
          expect(screen.lines()[0]).toMatch(/^Watching/)
          expect(screen.lines().some((l) => l.length > 80)).toBe(true)
        }
        if (i === 30) {
          output.resize(60, 12)
          screen.resize(60, 12)
          feed()
          expect(screen.lines().every((l) => l.length <= 60)).toBe(true)
          expect(screen.lines()[0]).toMatch(/^Watching/)
          expect(screen.lines().some((l) => /older task\(s\) not shown/.test(l))).toBe(true)
        }
      }
      expect(headerCount(screen.history())).toBe(0)
      live.stop()
      feed()
    })
    expect(screen.unknown).toEqual([])
    expect(screen.onAlternateScreen).toBe(false)
    const after = screen.history()
    // The user's earlier output is untouched, and the table is there once, every task in it.
    expect(after.filter((l) => l.startsWith('earlier output'))).toEqual(before.filter((l) => l.startsWith('earlier')))
    expect(headerCount(after)).toBe(1)
    expect(after.filter((l) => l.startsWith('task-'))).toHaveLength(40)
  })
})

describe('LiveWorkflow on a terminal', () => {
  it('shows a status line while nothing has arrived, then the newest end of the workflow within the window', () => {
    const output = memoryOutput({tty: true, columns: 80, rows: 10})
    const screen = new Screen(80, 10)
    const correlation = '7f3c9a52-1b2e-4c55-9d1a-0e6b8f1c2d3e'
    const message = (i: number): WorkflowMessage => ({
      site: 'osl1',
      stream: 'DV_EVT',
      seq: i + 1,
      subject: 'dv.maskin.evt.server.updated',
      time: new Date(Date.UTC(2026, 2, 14, 9, 0, i)).toISOString(),
      id: `m-${i}`,
      causation_id: i ? `m-${i - 1}` : null,
      type: 'maskin.server.updated',
      envelope: {},
    })
    const workflow = (n: number) =>
      assembleWorkflow({
        correlationId: correlation,
        sites: [{site: 'osl1'}],
        window: {},
        messages: Array.from({length: n}, (_, i) => message(i)),
        deadLetters: [],
        scanned: n,
      })
    let seen = 0
    const feed = () => {
      screen.write(output.stdout().slice(seen))
      seen = output.stdout().length
    }
    withContext({output, env: {}}, () => {
      const live = new LiveWorkflow('timeline', {correlationId: correlation, sites: ['osl1']})
      live.start()
      live.show({kind: 'snapshot', result: workflow(0)})
      feed()
      expect(screen.lines()[0]).toMatch(/^Watching workflow 7f3c9a52 on osl1 for \ds; no message yet/)
      live.show({kind: 'snapshot', result: workflow(29)})
      const grown = workflow(30)
      live.show({kind: 'message', message: grown.messages[29], result: grown})
      feed()
      const visible = screen.lines()
      expect(visible[0]).toMatch(/; 30 messages, running/)
      expect(visible[1]).toMatch(/^Workflow 7f3c9a52/)
      expect(visible[2]).toMatch(/^… \d+ earlier lines/)
      // The newest message is on the last row; nothing scrolled.
      expect(visible[9]).toContain('m-29')
      expect(screen.history().some((l) => l.includes('m-'))).toBe(false)
      live.stop()
      feed()
    })
    expect(screen.unknown).toEqual([])
    // Once stopped, the whole timeline is printed once on the user's screen.
    const printed = screen.history().filter((l) => / m-\d+/.test(l))
    expect(printed).toHaveLength(30)
  })
})

describe('clock times for scrolling logs', () => {
  it('prints the time of day on a terminal (with the date when not today), RFC 3339 off it', () => {
    const at = new Date(2026, 2, 14, 14, 3, 7)
    expect(formatClock(tty, at.toISOString(), new Date(2026, 2, 14, 18, 0, 0).getTime())).toBe('14:03:07')
    expect(formatClock(tty, at.toISOString(), new Date(2026, 2, 15, 1, 0, 0).getTime())).toBe('2026-03-14 14:03:07')
    expect(formatClock(piped, at.toISOString())).toBe(at.toISOString())
    expect(formatClock(tty, 'not a time')).toBe('not a time')
    expect(formatClock(tty, undefined)).toBe('-')
  })
})
