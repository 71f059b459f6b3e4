import {describe, expect, it} from 'vitest'

import {groupDeadLetters, groupKeyFor, serviceOf} from '../../../src/lib/dlq/group.js'
import {parseGroupKey} from '../../../src/lib/dlq/group-key.js'
import {letterMatcher} from '../../../src/lib/dlq/select.js'
import {emptyLedgerState} from '../../../src/lib/dlq/ledger.js'
import type {DeadLetter, LedgerEntry} from '../../../src/lib/dlq/model.js'
import {decideReplay, replayIdFor} from '../../../src/lib/dlq/plan.js'
import {statusOf} from '../../../src/lib/dlq/read.js'

function letter(over: Partial<DeadLetter> = {}): DeadLetter {
  return {
    ref: 'DV_CMD:5',
    site: 'osl1',
    stream: 'DV_CMD',
    seq: 5,
    consumer: 'maskin',
    reason: 'terminated',
    deliveries: 1,
    never_delivered: false,
    dead_lettered_at: '2026-01-01T00:00:00Z',
    subject: 'dv.maskin.cmd.provision',
    type: 'maskin.server.provision.requested',
    id: 'c1',
    correlation_id: 'k1',
    tenant_id: 'acme',
    status: 'pending',
    failure: null,
    original_time: '2026-01-01T00:00:00Z',
    original_source: 'stream',
    term_reason: null,
    last_action: null,
    replay_in_progress: false,
    last_replay: null,
    advisory: {stream: 'DV_DLQ', seq: 1},
    missing_reason: null,
    problems: [],
    ...over,
  }
}

const replayed: LedgerEntry = {
  action: 'replayed',
  actor: 'ops',
  at: '2026-01-02T00:00:00Z',
  reason: null,
  replay_id: 'dvr-DV_CMD-5-g1',
  generation: 1,
  new_seq: 99,
  to_subject: 'dv.maskin.cmd.provision',
}

describe('decideReplay', () => {
  it('plans the first replay to the original subject with generation 1', () => {
    const d = decideReplay(letter(), emptyLedgerState(), {force: false})
    expect(d).toMatchObject({
      item: {subject: 'dv.maskin.cmd.provision', replay_id: 'dvr-DV_CMD-5-g1', generation: 1, resume: null},
    })
  })

  it('sends to --to when given', () => {
    const d = decideReplay(letter(), emptyLedgerState(), {force: false, toSubject: 'dv.maskin.cmd.reprovision'})
    expect(d).toMatchObject({item: {subject: 'dv.maskin.cmd.reprovision'}})
  })

  it('refuses a dead letter already replayed unless --force, which starts a new generation', () => {
    const ledger = emptyLedgerState()
    ledger.generation.set('DV_CMD.5', 1)
    const l = letter({status: 'replayed', last_action: replayed})
    const refused = decideReplay(l, ledger, {force: false})
    expect(refused).toEqual({skip: expect.stringMatching(/already replayed as seq 99 by ops .*--force/)})
    expect(decideReplay(l, ledger, {force: true})).toMatchObject({item: {replay_id: 'dvr-DV_CMD-5-g2', generation: 2}})
  })

  it('refuses a replay that failed again with the same error code unless --force; another error may be retried', () => {
    const ledger = emptyLedgerState()
    ledger.generation.set('DV_CMD.5', 1)
    const failedAgain = (code: string) =>
      letter({
        status: 'replay_failed',
        last_action: replayed,
        failure: {code: 'quota-exceeded', message: 'no quota'},
        last_replay: {
          replay_id: 'dvr-DV_CMD-5-g1',
          seq: 99,
          at: replayed.at,
          actor: 'ops',
          outcome: 'failed',
          error: {code, message: 'still no quota'},
        },
      })
    expect(decideReplay(failedAgain('quota-exceeded'), ledger, {force: false})).toEqual({
      skip: expect.stringMatching(/last replay \(seq 99.*failed with the same error quota-exceeded.*--force/),
    })
    expect(decideReplay(failedAgain('quota-exceeded'), ledger, {force: true})).toMatchObject({
      item: {replay_id: 'dvr-DV_CMD-5-g2', generation: 2},
    })
    expect(decideReplay(failedAgain('disk-full'), ledger, {force: false})).toMatchObject({
      item: {replay_id: 'dvr-DV_CMD-5-g2', generation: 2},
    })
  })

  it('finishes an interrupted replay with its own replay id, even with --force', () => {
    const ledger = emptyLedgerState()
    ledger.inFlight.set('DV_CMD.5', {
      key: 'DV_CMD.5',
      ref: 'DV_CMD:5',
      replay_id: 'dvr-DV_CMD-5-g3',
      generation: 3,
      to_subject: 'dv.maskin.cmd.provision',
      journal: '_replays.x.0',
      at: '2026-01-03T00:00:00Z',
    })
    for (const force of [false, true]) {
      expect(decideReplay(letter({replay_in_progress: true}), ledger, {force})).toMatchObject({
        item: {replay_id: 'dvr-DV_CMD-5-g3', generation: 3, resume: {at: '2026-01-03T00:00:00Z'}},
      })
    }
  })

  it('refuses a missing original with a clear reason', () => {
    const d = decideReplay(letter({status: 'missing', subject: null}), emptyLedgerState(), {force: true})
    expect(d).toEqual({skip: expect.stringContaining('the original message is gone')})
  })

  it('never plans an invalid or missing dead letter, whatever --force and --to say', () => {
    const invalid = letter({
      status: 'invalid',
      problems: [{path: '$.stream_seq', code: 'bad-stream-seq', message: 'x'}],
    })
    expect(decideReplay(invalid, emptyLedgerState(), {force: true, toSubject: 'dv.maskin.cmd.provision'})).toEqual({
      skip: expect.stringContaining('not a valid dead-letter advisory'),
    })
    const recreated = letter({
      status: 'missing',
      subject: null,
      missing_reason: 'stream-recreated',
      problems: [{path: '$', code: 'stream-recreated', message: 'DV_CMD was recreated'}],
    })
    expect(decideReplay(recreated, emptyLedgerState(), {force: true, toSubject: 'dv.maskin.cmd.provision'})).toEqual({
      skip: expect.stringContaining('DV_CMD was recreated'),
    })
  })

  it('refuses an original subject outside the command taxonomy unless --to names a command subject', () => {
    const odd = letter({subject: 'dv.nosuch.cmd.provision'})
    expect(decideReplay(odd, emptyLedgerState(), {force: false})).toEqual({skip: expect.stringContaining('--to')})
    expect(decideReplay(odd, emptyLedgerState(), {force: false, toSubject: 'dv.maskin.cmd.provision'})).toMatchObject({
      item: {subject: 'dv.maskin.cmd.provision'},
    })
  })

  it('ignores a journal the listing did not count as in flight (an earlier incarnation of the stream)', () => {
    const ledger = emptyLedgerState()
    ledger.generation.set('DV_CMD.5', 1)
    ledger.inFlight.set('DV_CMD.5', {
      key: 'DV_CMD.5',
      ref: 'DV_CMD:5',
      replay_id: 'dvr-DV_CMD-5-g1',
      generation: 1,
      to_subject: '$KV.dv_dlq_ledger.x',
      journal: '_replays.x.0',
      at: '2026-01-03T00:00:00Z',
    })
    expect(decideReplay(letter(), ledger, {force: false})).toMatchObject({
      item: {subject: 'dv.maskin.cmd.provision', replay_id: 'dvr-DV_CMD-5-g2', resume: null},
    })
    // Counted as in flight, a forged journal target is still refused.
    expect(decideReplay(letter({replay_in_progress: true}), ledger, {force: false})).toEqual({
      skip: expect.stringContaining('reserved'),
    })
  })

  it('derives replay ids from ref and generation only (a re-run reuses them)', () => {
    expect(replayIdFor(letter(), 1)).toBe(replayIdFor(letter({dead_lettered_at: 'later'}), 1))
    expect(replayIdFor(letter(), 1)).not.toBe(replayIdFor(letter(), 2))
  })
})

describe('status, filters and groups', () => {
  it('derives the status from the ledger, then from whether the original exists', () => {
    expect(statusOf(true, undefined)).toBe('pending')
    expect(statusOf(false, undefined)).toBe('missing')
    expect(statusOf(true, 'replaying')).toBe('pending')
    expect(statusOf(false, 'replayed')).toBe('replayed')
    expect(statusOf(true, 'discarded')).toBe('discarded')
  })

  it('groups by type, service, reason and error, largest first', () => {
    const letters = [
      letter(),
      letter({seq: 6, reason: 'max_deliveries', failure: {code: 'timeout', message: ''}}),
      letter({seq: 7, subject: 'dv.nett.cmd.apply', type: 'nett.apply.requested', consumer: 'nett'}),
    ]
    const keys = (by: Parameters<typeof groupDeadLetters>[1]) =>
      groupDeadLetters(letters, by).map((g) => [g.key, g.value, g.count])
    expect(keys('type')).toEqual([
      ['type:maskin.server.provision.requested', 'maskin.server.provision.requested', 2],
      ['type:nett.apply.requested', 'nett.apply.requested', 1],
    ])
    expect(keys('service')).toEqual([
      ['service:maskin', 'maskin', 2],
      ['service:nett', 'nett', 1],
    ])
    expect(keys('reason')).toEqual([
      ['reason:terminated', 'terminated', 2],
      ['reason:max_deliveries', 'max_deliveries', 1],
    ])
    // No failure known: the `_` key; the value is null.
    expect(keys('error')).toEqual([
      ['error:_', null, 2],
      ['error:timeout', 'timeout', 1],
    ])
    expect(keys('consumer')[0]).toEqual(['consumer:maskin', 'maskin', 2])
    expect(keys('tenant')[0][0]).toMatch(/^tenant:/)
    expect(serviceOf({subject: null, consumer: 'objekt'})).toBe('objekt')
  })

  it('keys a group stably: plain values as they are, others by a short hash', () => {
    expect(groupKeyFor('error', 'quota-exceeded')).toBe('error:quota-exceeded')
    expect(groupKeyFor('error', null)).toBe('error:_')
    const odd = groupKeyFor('error', 'Quota exceeded for tenant acme')
    expect(odd).toMatch(/^error:=[0-9a-f]{10}$/)
    expect(groupKeyFor('error', 'Quota exceeded for tenant acme')).toBe(odd)
    expect(groupKeyFor('error', 'x'.repeat(49))).toMatch(/^error:=/)
    expect(parseGroupKey('error:quota-exceeded')).toEqual({by: 'error', key: 'error:quota-exceeded'})
    for (const bad of ['quota-exceeded', 'colour:red', 'error:']) expect(() => parseGroupKey(bad)).toThrow(/group key/)
  })

  it('filters by error, failure text, service, correlation and end time', () => {
    const a = letter({failure: {code: 'timeout', message: 'Upstream slow'}, correlation_id: 'abcdef-1234'})
    const match = (filter: Parameters<typeof letterMatcher>[0]) => letterMatcher(filter)(a)
    expect(match({error: 'timeout'})).toBe(true)
    expect(match({error: 'quota'})).toBe(false)
    expect(match({failureReason: 'upstream'})).toBe(true)
    expect(match({failureReason: 'terminated'})).toBe(a.reason === 'terminated')
    expect(match({service: 'maskin'})).toBe(true)
    expect(match({service: 'nett'})).toBe(false)
    expect(match({correlation: 'abcdef'})).toBe(true)
    expect(match({correlation: 'abcdeg'})).toBe(false)
    expect(match({group: 'error:timeout'})).toBe(true)
    expect(match({group: 'error:_'})).toBe(false)
    expect(match({until: new Date(Date.parse(a.dead_lettered_at) + 1)})).toBe(true)
    expect(match({until: new Date(Date.parse(a.dead_lettered_at))})).toBe(false)
  })
})
