import {describe, expect, it} from 'vitest'

import {applyTaskEvent, foldTaskEvents, TaskEventData, type TaskState} from '../../../src/lib/contract/lifecycle.js'

describe('applyTaskEvent', () => {
  it('walks the happy path created -> queued -> started -> progress* -> succeeded', () => {
    expect(foldTaskEvents(['created', 'queued', 'started', 'progress', 'progress', 'succeeded'])).toEqual({
      state: 'succeeded',
      illegal: [],
    })
  })

  it.each(['created', 'queued', 'started', 'progress'] as TaskState[])('cancelled may follow %s', (state) => {
    expect(applyTaskEvent(state, 'cancelled')).toEqual({state: 'cancelled'})
  })

  it.each([
    ['succeeded', 'progress'],
    ['succeeded', 'failed'],
    ['failed', 'started'],
    ['failed', 'succeeded'],
    ['cancelled', 'started'],
    ['cancelled', 'succeeded'],
    ['succeeded', 'cancelled'],
  ] as Array<[TaskState, string]>)('%s -> %s is an illegal transition, and the state stays', (from, verb) => {
    const r = applyTaskEvent(from, verb)
    expect(r.state).toBe(from)
    expect(r.illegal).toMatchObject({code: 'illegal-transition', path: '$.type'})
  })

  it.each([
    ['started', 'queued'],
    ['progress', 'started'],
    ['queued', 'created'],
  ] as Array<[TaskState, string]>)('going back (%s -> %s) is illegal', (from, verb) => {
    expect(applyTaskEvent(from, verb).illegal?.code).toBe('illegal-transition')
  })

  it('a redelivered event is a duplicate, not an illegal transition', () => {
    expect(applyTaskEvent('started', 'started')).toEqual({state: 'started', duplicate: true})
    expect(applyTaskEvent('succeeded', 'succeeded')).toEqual({state: 'succeeded', duplicate: true})
    expect(applyTaskEvent('progress', 'progress')).toEqual({state: 'progress'})
  })

  it('may skip ahead, and may start mid-life', () => {
    expect(applyTaskEvent('created', 'started')).toEqual({state: 'started'})
    expect(applyTaskEvent(undefined, 'progress')).toEqual({state: 'progress'})
    expect(applyTaskEvent(undefined, 'failed')).toEqual({state: 'failed'})
  })

  it('flags an unknown verb and keeps the state', () => {
    expect(applyTaskEvent('started', 'updated')).toMatchObject({state: 'started', illegal: {code: 'unknown-task-verb'}})
    expect(applyTaskEvent(undefined, 'updated')).toMatchObject({state: undefined, illegal: {code: 'unknown-task-verb'}})
  })

  it('folds every illegal step', () => {
    const r = foldTaskEvents(['created', 'started', 'succeeded', 'progress', 'failed'])
    expect(r.state).toBe('succeeded')
    expect(r.illegal.map((p) => p.code)).toEqual(['illegal-transition', 'illegal-transition'])
  })
})

describe('TaskEventData', () => {
  it('accepts the documented shapes', () => {
    expect(TaskEventData.safeParse({task_id: 't', state: 'created'}).success).toBe(true)
    expect(
      TaskEventData.safeParse({task_id: 't', state: 'progress', progress: {percent: 50, message: 'half'}}).success,
    ).toBe(true)
    expect(
      TaskEventData.safeParse({task_id: 't', state: 'failed', error: {code: 'e', message: 'm', retryable: true}})
        .success,
    ).toBe(true)
    expect(TaskEventData.safeParse({task_id: 't', state: 'succeeded', result: [1, 2], extra: 'ignored'}).success).toBe(
      true,
    )
  })

  it('rejects a missing task_id, a failed task without error, and a bad error', () => {
    expect(TaskEventData.safeParse({state: 'created'}).success).toBe(false)
    expect(TaskEventData.safeParse({task_id: 't', state: 'failed'}).success).toBe(false)
    expect(TaskEventData.safeParse({task_id: 't', state: 'failed', error: {code: 'e', message: 'm'}}).success).toBe(
      false,
    )
  })
})
