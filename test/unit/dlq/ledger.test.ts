import {describe, expect, it} from 'vitest'

import {foldLedger, type LedgerChange, ledgerEntriesOf, type ReplayJournal} from '../../../src/lib/dlq/ledger.js'
import type {LedgerEntry} from '../../../src/lib/dlq/model.js'
import type {ReplayItem} from '../../../src/lib/dlq/plan.js'
import {journalChunks} from '../../../src/lib/dlq/replay.js'

const enc = new TextEncoder()
let revision = 0
const value = (key: string, v: unknown, deleted = false): LedgerChange => ({
  key,
  value: enc.encode(typeof v === 'string' ? v : JSON.stringify(v)),
  deleted,
  stored: Date.parse('2026-01-01T00:00:00Z') + revision,
  seq: ++revision,
})

const item = (seq: number, generation = 1, newSeq?: number) => ({
  key: `DV_CMD.${seq}`,
  ref: `DV_CMD:${seq}`,
  replay_id: `dvr-DV_CMD-${seq}-g${generation}`,
  generation,
  to_subject: 'dv.maskin.cmd.provision',
  ...(newSeq === undefined ? {} : {new_seq: newSeq}),
})

const journal = (action: ReplayJournal['action'], items: ReplayJournal['items']): ReplayJournal => ({
  action,
  actor: 'ops',
  at: '2026-01-02T00:00:00Z',
  ...(action === 'replayed' ? {done_at: '2026-01-02T00:00:05Z'} : {}),
  reason: 'quota raised',
  items,
})

const discard: LedgerEntry = {
  action: 'discarded',
  actor: 'ola',
  at: '2026-01-03T00:00:00Z',
  reason: 'obsolete',
  replay_id: null,
  generation: 1,
  new_seq: null,
  to_subject: null,
}

describe('the ledger folded from its journals and per-letter keys', () => {
  it('a started chunk is in flight; its replayed record confirms what was acknowledged and keeps the rest in flight', () => {
    const started = foldLedger([value('_replays.r1.0', journal('replaying', [item(1), item(2), item(3)]))])
    expect([...started.inFlight.keys()].sort()).toEqual(['DV_CMD.1', 'DV_CMD.2', 'DV_CMD.3'])
    expect(started.last.size).toBe(0)
    expect(started.generation.get('DV_CMD.2')).toBe(1)

    // The same key's last value: 1 acknowledged, 2 sent and not acknowledged, 3 never sent (left out).
    const done = foldLedger([value('_replays.r1.0', journal('replayed', [item(1, 1, 41), item(2)]))])
    expect(done.last.get('DV_CMD.1')).toEqual({
      action: 'replayed',
      actor: 'ops',
      at: '2026-01-02T00:00:05Z',
      reason: 'quota raised',
      replay_id: 'dvr-DV_CMD-1-g1',
      generation: 1,
      new_seq: 41,
      to_subject: 'dv.maskin.cmd.provision',
      new_id: null,
      started_at: '2026-01-02T00:00:00Z',
    })
    expect([...done.inFlight.keys()]).toEqual(['DV_CMD.2'])
    expect(done.inFlight.get('DV_CMD.2')).toMatchObject({replay_id: 'dvr-DV_CMD-2-g1', journal: '_replays.r1.0'})
    expect(done.last.has('DV_CMD.3')).toBe(false)
  })

  it('a re-run that confirms an interrupted item ends its replay in progress, also after a later discard', () => {
    const state = foldLedger([
      value('_replays.r1.0', journal('replaying', [item(2)])),
      value('_replays.r2.0', journal('replayed', [item(2, 1, 50)])),
      value('DV_CMD.2', discard),
    ])
    expect(state.inFlight.size).toBe(0)
    // The latest action by revision wins: the discard, written after the journal.
    expect(state.last.get('DV_CMD.2')?.action).toBe('discarded')
  })

  it('the latest action by revision wins between a per-letter key and a journal, and generations take the highest', () => {
    const state = foldLedger([
      value('DV_CMD.7', discard),
      value('_replays.r3.0', journal('replayed', [item(7, 2, 70)])),
      value('_replays.r4.0', journal('replaying', [item(7, 3)])),
    ])
    expect(state.last.get('DV_CMD.7')).toMatchObject({action: 'replayed', new_seq: 70, generation: 2})
    expect(state.generation.get('DV_CMD.7')).toBe(3)
    expect(state.inFlight.get('DV_CMD.7')?.replay_id).toBe('dvr-DV_CMD-7-g3')
  })

  it('reads entries of the per-letter format too, and ignores deleted journals and values that are not journals', () => {
    const state = foldLedger([
      value('DV_CMD.9', {...discard, action: 'replayed', replay_id: 'dvr-DV_CMD-9-g1', new_seq: 90}),
      value('_replays.old.0', '', true),
      value('_replays.bad.0', 'not json'),
      value('_replays.bad.1', {action: 'replayed', actor: 'x', at: 'y', items: [{key: 'DV_CMD.9', new_seq: 'x'}]}),
      value('forged', {action: 'discarded'}),
    ])
    expect([...state.last.keys()]).toEqual(['DV_CMD.9'])
    expect(state.inFlight.size).toBe(0)
  })
})

describe('ledgerEntriesOf (what an incremental follower of the bucket takes from one write)', () => {
  it("a dead letter's own entry, each confirmed item of a journal, nothing from a journal's start or a deletion", () => {
    expect(ledgerEntriesOf(value('DV_CMD.3', discard))).toEqual([{key: 'DV_CMD.3', entry: discard}])
    expect(ledgerEntriesOf(value('_replays.r1.0', journal('replaying', [item(1), item(2)])))).toEqual([])
    const done = ledgerEntriesOf(value('_replays.r1.0', journal('replayed', [item(1, 1, 41), item(2)])))
    expect(done.map((d) => [d.key, d.entry.action, d.entry.new_seq])).toEqual([['DV_CMD.1', 'replayed', 41]])
    expect(ledgerEntriesOf(value('DV_CMD.3', '', true))).toEqual([])
  })
})

describe('journalChunks', () => {
  const planned = (n: number, subject = 'dv.maskin.cmd.provision') =>
    Array.from({length: n}, (_, i) => ({
      key: `DV_CMD.${i + 1}`,
      subject,
      replay_id: `dvr-DV_CMD-${i + 1}-g1`,
      letter: {ref: `DV_CMD:${i + 1}`},
    })) as unknown as ReplayItem[]

  it('cuts at 1,000 items, and earlier when the journal would not fit half the max payload', () => {
    expect(journalChunks(planned(2500)).map((c) => c.length)).toEqual([1000, 1000, 500])
    const small = journalChunks(planned(300), 64 * 1024)
    expect(small.flat()).toHaveLength(300)
    for (const chunk of small) {
      const worst = JSON.stringify(
        journal(
          'replayed',
          chunk.map((_, i) => ({...item(i + 1e9, 1, 1e12), new_id: 'x'.repeat(36)})),
        ),
      )
      expect(worst.length).toBeLessThanOrEqual(32 * 1024)
    }
  })
})
