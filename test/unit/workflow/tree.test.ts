import {describe, expect, it} from 'vitest'

import {TaskBoard} from '../../../src/lib/tasks/board.js'
import {assembleWorkflow} from '../../../src/lib/workflow/read.js'
import {
  buildCausationTree,
  deriveStatus,
  taskStates,
  walkTree,
  type WorkflowMessage,
} from '../../../src/lib/workflow/tree.js'

let seq = 0
function msg(id: string, causation: string | null, at: number, extra: Partial<WorkflowMessage> = {}): WorkflowMessage {
  seq++
  return {
    site: 'osl1',
    stream: 'DV_CMD',
    seq,
    subject: 'dv.maskin.cmd.provision',
    time: new Date(Date.UTC(2026, 2, 14, 9, 0, at)).toISOString(),
    id,
    causation_id: causation,
    type: 'maskin.server.provision.requested',
    envelope: {id, ...(causation ? {causation_id: causation} : {}), data: {}},
    ...extra,
  }
}

function task(
  id: string,
  causation: string,
  at: number,
  taskId: string,
  state: string,
  site = 'osl1',
): WorkflowMessage {
  return msg(id, causation, at, {
    site,
    stream: 'DV_TASK',
    subject: `dv.task.evt.${state}`,
    type: `task.${state}`,
    envelope: {id, causation_id: causation, subject: taskId, data: {task_id: taskId, state}},
  })
}

describe('buildCausationTree', () => {
  it('puts each message under its parent, children in time order, whatever the input order', () => {
    const input = [msg('c', 'a', 3), msg('b', 'a', 2), msg('a', null, 1), msg('d', 'b', 4, {site: 'trd1'})]
    const tree = buildCausationTree(input)
    expect(tree.roots).toEqual(['a'])
    expect(tree.orphans).toEqual([])
    expect(tree.tree).toEqual([
      {
        id: 'a',
        children: [
          {id: 'b', children: [{id: 'd', children: []}]},
          {id: 'c', children: []},
        ],
      },
    ])
    expect(tree.messages.map((m) => m.id)).toEqual(['a', 'b', 'c', 'd'])
  })

  it('keeps a message whose parent was not seen as an orphan at the top, never drops it', () => {
    const tree = buildCausationTree([msg('a', null, 1), msg('x', 'missing', 2), msg('y', 'x', 3)])
    expect(tree.orphans).toEqual(['x'])
    expect(tree.tree.map((n) => n.id)).toEqual(['a', 'x'])
    expect(tree.tree[1].children.map((n) => n.id)).toEqual(['y'])
  })

  it('shows a duplicate delivery once and counts it', () => {
    const first = msg('a', null, 1)
    const again = {...msg('a', null, 1), seq: 99}
    const tree = buildCausationTree([first, again, msg('b', 'a', 2)])
    expect(tree.messages.map((m) => m.id)).toEqual(['a', 'b'])
    expect(tree.duplicates).toEqual([
      {id: 'a', count: 2, copies: [expect.objectContaining({seq: first.seq}), expect.objectContaining({seq: 99})]},
    ])
  })

  it('does not lose the members of a causation cycle', () => {
    const tree = buildCausationTree([msg('p', 'q', 1), msg('q', 'p', 2)])
    const ids: string[] = []
    walkTree(tree.tree, (n) => ids.push(n.id))
    expect(ids.sort()).toEqual(['p', 'q'])
    expect(tree.orphans).toHaveLength(1)
  })

  it('treats a message that names itself as its cause as an orphan', () => {
    const tree = buildCausationTree([msg('s', 's', 1)])
    expect(tree.orphans).toEqual(['s'])
  })
})

describe('walkTree', () => {
  it('visits depth-first with depth and last-child flags', () => {
    const visits: string[] = []
    walkTree(
      [
        {
          id: 'a',
          children: [
            {id: 'b', children: []},
            {id: 'c', children: [{id: 'd', children: []}]},
          ],
        },
        {id: 'e', children: []},
      ],
      (n, depth, last) => visits.push(`${n.id}${depth}${last ? 'L' : ''}`),
    )
    expect(visits).toEqual(['a0', 'b1', 'c1L', 'd2L', 'e0L'])
  })
})

describe('task states and workflow status', () => {
  it('follows each task to its latest state and ignores events after a terminal one', () => {
    const states = taskStates([
      task('1', 'a', 1, 't1', 'created'),
      task('2', 'a', 2, 't1', 'started'),
      task('3', 'a', 3, 't1', 'succeeded'),
      task('4', 'a', 4, 't1', 'progress'),
      task('5', 'a', 5, 't2', 'created', 'trd1'),
    ])
    expect(states).toEqual([
      {task_id: 't1', site: 'osl1', state: 'succeeded', id: '3'},
      {task_id: 't2', site: 'trd1', state: 'created', id: '5'},
    ])
  })

  it('keeps a task at progress when started arrives after it, as task watch does (one reducer)', () => {
    const events = [
      task('1', 'a', 1, 't1', 'created'),
      task('2', 'a', 2, 't1', 'progress'),
      task('3', 'a', 3, 't1', 'started'),
    ]
    expect(taskStates(events)).toEqual([{task_id: 't1', site: 'osl1', state: 'progress', id: '2'}])
    const board = new TaskBoard()
    for (const m of events) board.apply({site: m.site, subject: m.subject, time: m.time, envelope: m.envelope})
    expect(board.tasks().map((t) => [t.task_id, t.state, t.illegal_transitions])).toEqual([['t1', 'progress', 1]])
  })

  it('reads the verb from the subject, as task watch does, whatever data.state says', () => {
    const m = task('1', 'a', 1, 't1', 'succeeded')
    m.envelope = {...m.envelope, data: {task_id: 't1', state: 'started'}}
    expect(taskStates([m]).map((t) => t.state)).toEqual(['succeeded'])
  })

  it('derives dead-lettered, failed, succeeded and running', () => {
    const ok = {task_id: 't', site: 's', state: 'succeeded', id: 'i'}
    const bad = {...ok, state: 'failed'}
    const cancelled = {...ok, state: 'cancelled'}
    const busy = {...ok, state: 'started'}
    expect(deriveStatus([ok], 1)).toBe('dead-lettered')
    expect(deriveStatus([ok, bad], 0)).toBe('failed')
    expect(deriveStatus([cancelled], 0)).toBe('failed')
    expect(deriveStatus([ok, ok], 0)).toBe('succeeded')
    expect(deriveStatus([ok, busy], 0)).toBe('running')
    expect(deriveStatus([], 0)).toBe('running')
  })

  it('assembles failures and status from the messages', () => {
    const result = assembleWorkflow({
      correlationId: 'c',
      sites: [{site: 'osl1'}],
      window: {},
      messages: [msg('a', null, 1), task('f', 'a', 2, 't', 'failed')],
      deadLetters: [],
      scanned: 2,
    })
    expect(result.failures).toEqual(['f'])
    expect(result.status).toBe('failed')
    expect(result.tasks).toEqual([{task_id: 't', site: 'osl1', state: 'failed', id: 'f'}])
  })
})
