import {describe, expect, it} from 'vitest'

import {
  failureLines,
  LiveTaskTable,
  percentBar,
  taskEventLine,
  taskFilterText,
  watchSummary,
} from '../../../src/lib/render/tasks.js'
import {TaskBoard} from '../../../src/lib/tasks/board.js'
import type {Terminal} from '../../../src/lib/render/terminal.js'

const plain: Terminal = {json: false, stdoutTTY: false, stdinTTY: false, color: false, interactive: false}

describe('task rendering', () => {
  it('draws a fixed-width progress bar with the percent, clamped to 0..100', () => {
    expect(percentBar(0, 10)).toBe('[----------]   0%')
    expect(percentBar(45, 10)).toBe('[####------]  45%')
    expect(percentBar(100, 10)).toBe('[##########] 100%')
    expect(percentBar(140, 10)).toBe('[##########] 100%')
    expect(percentBar(undefined, 10)).toHaveLength(17)
  })

  it('prints one tab-separated line per event off a TTY, flagging illegal transitions', () => {
    const board = new TaskBoard()
    const base = {site: 'osl1', time: '2026-03-14T09:00:00.000Z'}
    const env = (verb: string, data: Record<string, unknown> = {}) => ({
      source: 'nett',
      subject: 't1',
      data: {task_id: 't1', state: verb, ...data},
    })
    const p = board.apply({
      ...base,
      subject: 'dv.task.evt.progress',
      envelope: env('progress', {progress: {percent: 30, message: 'vlan 12'}}),
    })!
    expect(taskEventLine(plain, p)).toBe('2026-03-14T09:00:00.000Z\tosl1\tt1\tprogress\t30%\tvlan 12\tnett')
    board.apply({
      ...base,
      subject: 'dv.task.evt.failed',
      envelope: env('failed', {error: {code: 'e1', message: 'down', retryable: false}}),
    })
    const late = board.apply({...base, subject: 'dv.task.evt.started', envelope: env('started')})!
    expect(taskEventLine(plain, late)).toContain('started(illegal: Task already failed')
    expect(failureLines(board.tasks())).toEqual(['Task t1 failed: e1: down'])
    expect(watchSummary(board.tasks())).toBe('1 task(s): 1 failed')
  })
})

describe('LiveTaskTable', () => {
  it('fits its frame to the window: status line, header, the latest updated tasks, a line for the rest', () => {
    const board = new TaskBoard()
    for (let i = 0; i < 10; i++) {
      const envelope = {source: 'maskin', subject: `t${i}`, data: {task_id: `t${i}`, state: 'started'}}
      const time = new Date(Date.UTC(2026, 2, 14, 9, 0, i)).toISOString()
      board.apply({site: 'osl1', time, subject: 'dv.task.evt.started', envelope})
    }
    const live = new LiveTaskTable({what: taskFilterText({service: 'maskin'}), sites: ['osl1']})
    expect(live.frame({columns: 80, rows: 6})[0]).toMatch(/^Watching tasks of service maskin on osl1 for \d+s; reading/)
    live.update(board.tasks())
    const lines = live.frame({columns: 80, rows: 6})
    expect(lines).toHaveLength(6)
    expect(lines[0]).toMatch(/^Watching tasks of service maskin on osl1 for \d+s; 10 task\(s\): 10 started$/)
    expect(lines[1]).toMatch(/^task +service +state +progress +age +site$/)
    // The three updated last, in the board's order.
    expect(lines.slice(2, 5).map((l) => l.split(/ +/)[0])).toEqual(['t7', 't8', 't9'])
    expect(lines[5]).toBe('(7 older task(s) not shown)')
  })
})
