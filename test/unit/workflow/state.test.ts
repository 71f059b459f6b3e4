import {describe, expect, it} from 'vitest'

import {WORKFLOW_LIST_STATUSES, WorkflowFold, type FoldMessage} from '../../../src/lib/workflow/state.js'
import {taskStates} from '../../../src/lib/workflow/tree.js'

const T0 = Date.parse('2026-12-01T10:00:00Z')
const minutes = (n: number) => new Date(T0 + n * 60_000).toISOString()

function event(id: string, at: number, task: string, verb: string): FoldMessage {
  return {
    site: 'osl1',
    subject: `dv.task.evt.${verb}`,
    time: minutes(at),
    id,
    envelope: {source: 'maskin', subject: task, correlation_id: 'c', data: {task_id: task, state: verb}},
  }
}

const fold = (...events: FoldMessage[]) => {
  const f = new WorkflowFold()
  for (const e of events) f.apply(e)
  return f
}

describe('the workflow reducer (show, list and count)', () => {
  it('states the precedence dead-lettered > failed > stalled > running > succeeded', () => {
    expect(WORKFLOW_LIST_STATUSES).toEqual(['dead-lettered', 'failed', 'stalled', 'running', 'succeeded'])
  })

  it('is stalled when a started task has had no event since the threshold, running otherwise', () => {
    const f = fold(event('1', 0, 't1', 'created'), event('2', 1, 't1', 'started'), event('3', 5, 't1', 'progress'))
    expect(f.listStatus(T0 + 6 * 60_000)).toBe('stalled')
    expect(f.stalledSince(T0 + 6 * 60_000)).toBe(minutes(5))
    expect(f.listStatus(T0 + 5 * 60_000)).toBe('running')
    // Created but never started: waiting, not stalled.
    expect(fold(event('1', 0, 't1', 'created')).listStatus(T0 + 60 * 60_000)).toBe('running')
  })

  it('ranks failed and dead-lettered above stalled, and stalled above a succeeded task', () => {
    const stalledAndFailed = fold(event('1', 0, 't1', 'started'), event('2', 0, 't2', 'failed'))
    expect(stalledAndFailed.listStatus(T0 + 60 * 60_000)).toBe('failed')
    const dead = fold(event('1', 0, 't1', 'succeeded'))
    dead.deadLetters = 1
    expect(dead.listStatus(T0)).toBe('dead-lettered')
    const mixed = fold(event('1', 0, 't1', 'succeeded'), event('2', 0, 't2', 'started'))
    expect(mixed.listStatus(T0 + 60 * 60_000)).toBe('stalled')
    expect(fold(event('1', 0, 't1', 'succeeded')).listStatus(T0 + 60 * 60_000)).toBe('succeeded')
  })

  it('gives workflow show the same task states (taskStates folds through it)', () => {
    const events = [event('1', 0, 't1', 'created'), event('2', 1, 't1', 'progress'), event('3', 2, 't1', 'started')]
    const messages = events.map((e) => ({...e, stream: 'DV_TASK', seq: Number(e.id), causation_id: null, type: null}))
    expect(taskStates(messages)).toEqual(fold(...events).tasks())
    expect(fold(...events).taskCounts()).toEqual({progress: 1})
  })

  it('without setters keeps the states and counts only', () => {
    const f = new WorkflowFold({setters: false})
    f.apply(event('1', 0, 't1', 'started'))
    f.apply(event('2', 1, 't1', 'succeeded'))
    expect(f.tasks()).toEqual([{task_id: 't1', site: 'osl1', state: 'succeeded', id: ''}])
    expect(f.status()).toBe('succeeded')
  })

  it('applyTask (workflow list) reaches the same states, counts, statuses and stalls as the task board', () => {
    // Legal steps, a duplicate, a backwards step, an event after a terminal state, an unknown verb, and a
    // task whose only event has an unknown verb.
    const sequences: Array<Array<[number, string, string]>> = [
      [
        [0, 't1', 'created'],
        [1, 't1', 'started'],
        [5, 't1', 'progress'],
      ],
      [
        [0, 't1', 'started'],
        [1, 't1', 'created'],
        [2, 't2', 'failed'],
        [3, 't2', 'started'],
      ],
      [
        [0, 't1', 'succeeded'],
        [4, 't1', 'succeeded'],
        [6, 't1', 'progress'],
        [7, 't3', 'paused'],
      ],
      [
        [0, 't1', 'paused'],
        [2, 't1', 'started'],
        [3, 't2', 'queued'],
        [9, 't2', 'cancelled'],
      ],
    ]
    for (const steps of sequences) {
      const board = fold(...steps.map(([at, task, verb], i) => event(String(i), at, task, verb)))
      const compact = new WorkflowFold()
      for (const [at, task, verb] of steps) compact.applyTask(task, verb, T0 + at * 60_000)
      compact.deadLetters = board.deadLetters
      expect(compact.taskCounts()).toEqual(board.taskCounts())
      expect(compact.tasks().map((t) => [t.task_id, t.state])).toEqual(board.tasks().map((t) => [t.task_id, t.state]))
      expect(compact.status()).toBe(board.status())
      for (const minute of [0, 2, 6, 10, 60]) {
        const before = T0 + minute * 60_000
        expect(compact.stalledSince(before)).toBe(board.stalledSince(before))
        expect(compact.listStatus(before)).toBe(board.listStatus(before))
      }
    }
  })
})
