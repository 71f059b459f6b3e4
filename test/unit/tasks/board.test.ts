import {describe, expect, it} from 'vitest'

import {TaskBoard, taskEventVerb, taskIdOf, type TaskEventInput} from '../../../src/lib/tasks/board.js'

const event = (verb: string, data: Record<string, unknown> = {}, site = 'osl1', taskId = 'tsk-1'): TaskEventInput => ({
  site,
  subject: `dv.task.evt.${verb}`,
  time: new Date(Date.UTC(2026, 2, 14, 9, 0, 0)).toISOString(),
  envelope: {
    source: 'maskin',
    subject: taskId,
    correlation_id: 'wf-1',
    tenant_id: 't1',
    data: {task_id: taskId, state: verb, ...data},
  },
})

describe('TaskBoard', () => {
  it('folds a lifecycle into the latest state, progress and result', () => {
    const board = new TaskBoard()
    board.apply(event('created'))
    board.apply(event('started'))
    board.apply(event('progress', {progress: {percent: 40, message: 'imaging'}}))
    expect(board.outcome()).toBe('running')
    const done = board.apply(event('succeeded', {result: {ok: true}}))!
    expect(done.previous).toBe('progress')
    expect(done.task).toMatchObject({
      task_id: 'tsk-1',
      service: 'maskin',
      state: 'succeeded',
      progress: {percent: 40, message: 'imaging'},
      result: {ok: true},
      correlation_id: 'wf-1',
      tenant_id: 't1',
      events: 4,
      illegal_transitions: 0,
    })
    expect(board.outcome()).toBe('succeeded')
  })

  it('flags anything after a terminal state as illegal and keeps the terminal state', () => {
    const board = new TaskBoard()
    board.apply(event('started'))
    board.apply(event('succeeded'))
    const late = board.apply(event('progress', {progress: {percent: 99}}))!
    expect(late.illegal?.code).toBe('illegal-transition')
    expect(late.task.state).toBe('succeeded')
    expect(late.task.last_verb).toBe('progress')
    expect(late.task.progress).toBeNull()
    expect(late.task.illegal_transitions).toBe(1)
  })

  it('keeps progress when started arrives after it: the lifecycle never moves back', () => {
    const board = new TaskBoard()
    board.apply(event('created'))
    board.apply(event('progress', {progress: {percent: 10}}))
    const late = board.apply(event('started'))!
    expect(late.previous).toBe('progress')
    expect(late.illegal?.code).toBe('illegal-transition')
    expect(late.task).toMatchObject({state: 'progress', last_verb: 'started', illegal_transitions: 1, events: 3})
  })

  it('keys a task by id alone with acrossSites, by site and id otherwise', () => {
    const across = new TaskBoard({acrossSites: true})
    across.apply(event('started', {}, 'osl1'))
    across.apply(event('succeeded', {}, 'trd1'))
    expect(across.tasks().map((t) => [t.task_id, t.state])).toEqual([['tsk-1', 'succeeded']])
  })

  it('reads the verb from the subject and the task id from data, else the envelope subject', () => {
    expect(taskEventVerb('dv.task.evt.started')).toBe('started')
    expect(taskEventVerb('dv.maskin.evt.server.started')).toBeNull()
    expect(taskIdOf({subject: 'tsk-9', data: {task_id: 'tsk-1'}})).toBe('tsk-1')
    expect(taskIdOf({subject: 'tsk-9', data: {}})).toBe('tsk-9')
    expect(taskIdOf({data: {task_id: 7}})).toBeNull()
    expect(taskIdOf('not an envelope')).toBeNull()
  })

  it('flags an unknown verb without crashing', () => {
    const board = new TaskBoard()
    board.apply(event('started'))
    const odd = board.apply(event('exploded'))!
    expect(odd.illegal?.code).toBe('unknown-task-verb')
    expect(odd.task.state).toBe('started')
  })

  it('keeps the error of a failed task; outcome is failed when any task failed or was cancelled', () => {
    const board = new TaskBoard()
    board.apply(event('succeeded', {}, 'osl1', 'a'))
    board.apply(event('failed', {error: {code: 'boom', message: 'it broke', retryable: false}}, 'osl1', 'b'))
    expect(board.outcome()).toBe('failed')
    expect(board.tasks().find((t) => t.task_id === 'b')?.error).toEqual({
      code: 'boom',
      message: 'it broke',
      retryable: false,
    })

    const cancelled = new TaskBoard()
    cancelled.apply(event('queued'))
    cancelled.apply(event('cancelled'))
    expect(cancelled.outcome()).toBe('failed')
  })

  it('keeps tasks of the same id on different sites apart, and is empty before any task', () => {
    const board = new TaskBoard()
    expect(board.outcome()).toBe('empty')
    board.apply(event('started', {}, 'osl1'))
    board.apply(event('succeeded', {}, 'trd1'))
    expect(board.size).toBe(2)
    expect(board.outcome()).toBe('running')
  })

  it('reads the task id from the envelope subject when data has none, and ignores events with neither', () => {
    const board = new TaskBoard()
    const e = event('started')
    e.envelope.data = {state: 'started'}
    expect(board.apply(e)?.task.task_id).toBe('tsk-1')
    expect(
      board.apply({site: 'osl1', subject: 'dv.task.evt.started', time: e.time, envelope: {data: {}}}),
    ).toBeUndefined()
  })

  it('tolerates a redelivered event (same state again) as a duplicate', () => {
    const board = new TaskBoard()
    board.apply(event('started'))
    const again = board.apply(event('started'))!
    expect(again.duplicate).toBe(true)
    expect(again.illegal).toBeUndefined()
  })
})
