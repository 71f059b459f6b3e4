import {describe, expect, it} from 'vitest'

import type {StoredMessage} from '../../../src/lib/nats/reader.js'
import {WorkflowTally} from '../../../src/lib/workflow/list.js'

const DAY = 86_400_000
const T0 = Date.parse('2026-12-01T10:00:00Z')
let seq = 0

function stored(subject: string, envelope: Record<string, unknown>, at: number): StoredMessage {
  return {
    site: 'osl1',
    stream: subject.startsWith('dv.task.') ? 'DV_TASK' : 'DV_CMD',
    seq: ++seq,
    subject,
    time: new Date(at).toISOString(),
    data: Buffer.from(JSON.stringify(envelope)),
  }
}

const command = (id: string, correlation: string, at: number) =>
  stored(
    'dv.maskin.cmd.provision',
    {
      id,
      correlation_id: correlation,
      type: 'maskin.server.provision.requested',
      source: 'sentral',
      time: new Date(at).toISOString(),
    },
    at,
  )
const task = (id: string, correlation: string, verb: string, at: number) =>
  stored(
    `dv.task.evt.${verb}`,
    {
      id,
      correlation_id: correlation,
      causation_id: 'cmd',
      type: `task.${verb}`,
      subject: 't1',
      time: new Date(at).toISOString(),
      data: {task_id: 't1'},
    },
    at,
  )

describe('WorkflowTally (workflow list and count)', () => {
  it('keeps first, last and root times exact however far apart, and in whatever order they arrive', () => {
    const tally = new WorkflowTally()
    // Later messages first, then one 40 days earlier (beyond the range of small integers in ms), then one 40 days later.
    tally.add(task('2', 'c', 'started', T0))
    tally.add(command('cmd', 'c', T0 - 40 * DAY))
    tally.add(task('3', 'c', 'succeeded', T0 + 40 * DAY + 1))
    const t = tally.byCorrelation.get('c')!
    const epoch = tally.epoch!
    expect(new Date(epoch + t.first).toISOString()).toBe(new Date(T0 - 40 * DAY).toISOString())
    expect(new Date(epoch + t.last).toISOString()).toBe(new Date(T0 + 40 * DAY + 1).toISOString())
    expect(t.root).toBeDefined()
    expect(new Date(epoch + t.rootAt).toISOString()).toBe(new Date(T0 - 40 * DAY).toISOString())
    expect(t.rootId).toBe('cmd')
    expect(t.fold.status()).toBe('succeeded')
  })

  it('keeps no fold for a workflow without task events, and no root id when told not to', () => {
    const tally = new WorkflowTally(undefined, false)
    tally.add(command('cmd', 'c', T0))
    const t = tally.byCorrelation.get('c')!
    expect(t.rootId).toBe('')
    expect(t.root).toEqual({
      type: 'maskin.server.provision.requested',
      subject: 'dv.maskin.cmd.provision',
      site: 'osl1',
      service: 'maskin',
    })
    expect(t.fold.status()).toBe('running')
    expect(t.fold.taskCounts()).toEqual({})
  })

  it('shares a root kind only between roots with the same type, subject, site and service', () => {
    const tally = new WorkflowTally()
    tally.add(command('a', 'c1', T0))
    tally.add(command('b', 'c2', T0))
    tally.add(
      stored(
        'dv.maskin.cmd.provision',
        {id: 'd', correlation_id: 'c3', type: 'maskin.server.x', source: 'sentral'},
        T0,
      ),
    )
    tally.add(stored('dv.maskin.cmd.provision', {id: 'e', correlation_id: 'c4', source: 'sentral'}, T0))
    const [c1, c2, c3, c4] = ['c1', 'c2', 'c3', 'c4'].map((c) => tally.byCorrelation.get(c)!)
    expect(c1.root).toBe(c2.root)
    expect(c3.root).toEqual({
      type: 'maskin.server.x',
      subject: 'dv.maskin.cmd.provision',
      site: 'osl1',
      service: 'maskin',
    })
    expect(c4.root).toEqual({type: null, subject: 'dv.maskin.cmd.provision', site: 'osl1', service: 'maskin'})
    expect([c1.rootId, c2.rootId, c3.rootId, c4.rootId]).toEqual(['a', 'b', 'd', 'e'])
  })
})
