import {describe, expect, it} from 'vitest'

import {failureLines, LiveTaskTable, percentBar, taskEventLine, watchSummary} from '../../../src/lib/render/tasks.js'
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
  it('redraws in place: each frame moves up over the previous one and clears below', async () => {
    const board = new TaskBoard()
    const env = (id: string) => ({source: 'maskin', subject: id, data: {task_id: id, state: 'started'}})
    board.apply({site: 'osl1', time: new Date().toISOString(), subject: 'dv.task.evt.started', envelope: env('a')})
    const written: string[] = []
    const write = process.stdout.write
    process.stdout.write = ((chunk: string) => {
      written.push(String(chunk))
      return true
    }) as typeof process.stdout.write
    try {
      const live = new LiveTaskTable(1)
      await live.draw(board.tasks())
      board.apply({site: 'osl1', time: new Date().toISOString(), subject: 'dv.task.evt.started', envelope: env('b')})
      await live.draw(board.tasks())
    } finally {
      process.stdout.write = write
    }
    const firstLines = written[0].trimEnd().split('\n').length
    expect(written[0].startsWith('\x1b[')).toBe(false)
    expect(written[1].startsWith(`\x1b[${firstLines}A\x1b[J`)).toBe(true)
    // Bounded to maxRows: the older task gives way, with a note.
    expect(written[1]).toContain('(1 older task(s) not shown)')
  })
})
