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
    expect(t.rooted).toBe(true)
    expect(new Date(epoch + t.rootAt).toISOString()).toBe(new Date(T0 - 40 * DAY).toISOString())
    expect(t.rootId).toBe('cmd')
    expect(t.fold.status()).toBe('succeeded')
  })

  it('keeps no fold for a workflow without task events, and no root id when told not to', () => {
    const tally = new WorkflowTally(undefined, false)
    tally.add(command('cmd', 'c', T0))
    const t = tally.byCorrelation.get('c')!
    expect(t.rooted).toBe(true)
    expect(t.rootId).toBe('')
    expect(t.rootType).toBe('maskin.server.provision.requested')
    expect(t.fold.status()).toBe('running')
    expect(t.fold.taskCounts()).toEqual({})
  })
})
