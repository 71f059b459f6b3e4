import chalk from 'chalk'
import {beforeAll, describe, expect, it} from 'vitest'

import type {SiteSnapshot} from '../../../src/lib/health/snapshot.js'
import {displayWidth} from '../../../src/lib/render/table.js'
import {
  applySnapshots,
  items,
  newTopState,
  pressKey,
  scrollViewer,
  topFrame,
  viewerFrame,
} from '../../../src/lib/render/top.js'

const ESC = '\u001B'
const NOW = Date.parse('2026-03-14T12:00:00Z')

function letter(seq: number, extra: Partial<NonNullable<SiteSnapshot['dead_letters']>['recent'][number]> = {}) {
  return {
    ref: `DV_CMD:${seq}`,
    stream: 'DV_CMD',
    seq,
    consumer: 'maskin',
    reason: 'max_deliveries' as const,
    dead_lettered_at: new Date(NOW - seq * 1000).toISOString(),
    age_ms: seq * 1000,
    ...extra,
  }
}

function snapshot(site: string, over: Partial<SiteSnapshot> = {}): SiteSnapshot {
  const recent = over.dead_letters?.recent ?? []
  return {
    site,
    url: 'nats://127.0.0.1:4223',
    taken_at: new Date(NOW).toISOString(),
    reachable: true,
    error: null,
    server_version: '2.9.10',
    errors: [],
    dead_letters: {pending: recent.length, groups: [], oldest: recent.at(-1) ?? null, recent, advisories_read: 0},
    consumers: [{stream: 'DV_CMD', name: 'maskin', filter_subject: null, pending: 4, ack_pending: 1, redelivered: 2}],
    oldest_unacked: null,
    tasks: {by_state: {progress: 2, succeeded: 5}, total: 7, stalled: [], stalled_count: 0, stalled_after_ms: 300_000},
    sources: [],
    ...over,
  }
}

const SIZE = {columns: 100, rows: 30}

describe('top frame', () => {
  beforeAll(() => {
    chalk.level = 0
  })

  it('shows every site in the tabs, the current one bracketed, and its sections', () => {
    const state = newTopState(['osl1', 'trd1'], 2000)
    applySnapshots(
      state,
      [
        snapshot('osl1', {dead_letters: null}),
        snapshot('trd1', {error: 'Site trd1 (nats://127.0.0.1:4224): connection refused'}),
      ],
      NOW,
    )
    const lines = topFrame(state, SIZE, NOW)
    expect(lines[1]).toBe('[1 osl1 (? dlq)]  2 trd1 (down)')
    expect(lines).toContain('Dead letters: not read')
    expect(lines.some((l) => /^ {2}DV_CMD\s+maskin\s+4\s+1\s+2/.test(l))).toBe(true)
    expect(lines).toContain('Tasks: 2 progress, 5 succeeded')
    expect(lines.at(-1)).toMatch(/q quit$/)
    pressKey(state, {site: 1})
    const down = topFrame(state, SIZE, NOW)
    expect(down).toContain('Site trd1 (nats://127.0.0.1:4224): connection refused')
    expect(down.some((l) => /^(Dead letters|Consumers|Tasks)/.test(l))).toBe(false)
  })

  it('marks the dead letters that arrived after the first snapshot as new', () => {
    const state = newTopState(['osl1'], 2000)
    applySnapshots(state, [snapshot('osl1', {dead_letters: {...snapshot('osl1').dead_letters!, recent: [letter(1)]}})])
    const recent = [letter(2), letter(1)]
    applySnapshots(state, [snapshot('osl1', {dead_letters: {...snapshot('osl1').dead_letters!, pending: 2, recent}})])
    const lines = topFrame(state, SIZE, NOW)
    expect(lines.some((l) => l.startsWith('Dead letters: 2 pending') && l.endsWith('1 new since top started'))).toBe(
      true,
    )
    expect(lines.filter((l) => /^[> ] \S+ new\s/.test(l))).toEqual([
      expect.stringMatching(/^> DV_CMD:2 new\s+2s\s+maskin/),
    ])
    expect(lines.some((l) => /^ {2}DV_CMD:1\s+1s/.test(l))).toBe(true)
  })

  it('sanitises what came from the network and fits the window', () => {
    const evil = `osl1${ESC}]0;owned${ESC}\\`
    const state = newTopState([evil], 2000)
    const hostile = snapshot(evil, {
      errors: [{part: 'tasks', message: `bad ${ESC}[2J`}],
      dead_letters: {
        ...snapshot(evil).dead_letters!,
        pending: 1,
        recent: [letter(7, {ref: `DV_CMD:7${ESC}[31m`, consumer: `c\r\n${'x'.repeat(500)}`})],
      },
    })
    applySnapshots(state, [hostile], NOW)
    for (const size of [SIZE, {columns: 40, rows: 12}]) {
      const lines = topFrame(state, size, NOW)
      expect(lines.join('\n')).not.toContain(ESC)
      expect(lines.length).toBeLessThanOrEqual(size.rows - 1)
      for (const line of lines) expect(displayWidth(line)).toBeLessThanOrEqual(size.columns)
    }
    expect(topFrame(state, SIZE, NOW).join('\n')).toContain('\\x1b[2J')
  })
})

describe('top keys', () => {
  const twoSites = () => {
    const state = newTopState(['osl1', 'trd1', 'bgo1'], 2000)
    const stalled = {
      task_id: 'srv-1',
      service: 'maskin',
      state: 'progress',
      correlation_id: null,
      updated_at: new Date(NOW - 600_000).toISOString(),
      idle_ms: 600_000,
    }
    applySnapshots(state, [
      snapshot('osl1', {
        dead_letters: {...snapshot('osl1').dead_letters!, pending: 2, recent: [letter(2), letter(1)]},
        tasks: {...snapshot('osl1').tasks!, stalled: [stalled], stalled_count: 1},
      }),
      snapshot('trd1'),
      snapshot('bgo1'),
    ])
    return state
  }

  it('switch sites with tab, arrows and numbers, and reset the selection', () => {
    const state = twoSites()
    pressKey(state, 'down')
    expect(state.selected).toBe(1)
    pressKey(state, 'next-site')
    expect([state.current, state.selected]).toEqual([1, 0])
    pressKey(state, 'previous-site')
    pressKey(state, 'previous-site')
    expect(state.current).toBe(2)
    pressKey(state, {site: 0})
    expect(state.current).toBe(0)
    pressKey(state, {site: 8})
    expect(state.current).toBe(0)
  })

  it('open the selected dead letter, or a workflow; say why when there is none', () => {
    const state = twoSites()
    expect(items(state).map((i) => i.kind)).toEqual(['dead-letter', 'dead-letter', 'task'])
    expect(pressKey(state, 'open')).toEqual({open: expect.objectContaining({ref: 'DV_CMD:2'}), as: 'dead-letter'})
    expect(pressKey(state, 'open-workflow')).toEqual({
      open: expect.objectContaining({ref: 'DV_CMD:2'}),
      as: 'workflow',
    })
    pressKey(state, 'down')
    pressKey(state, 'down')
    pressKey(state, 'down')
    expect(state.selected).toBe(2)
    // A stalled task without a correlation_id has no workflow to open.
    expect(pressKey(state, 'open')).toBeUndefined()
    expect(state.notice).toMatch(/no correlation_id/)
    expect(topFrame(state, SIZE, NOW).at(-1)).toMatch(/no correlation_id/)
    pressKey(state, 'next-site')
    expect(pressKey(state, 'open')).toBeUndefined()
    expect(state.notice).toMatch(/Nothing selected/)
    expect(pressKey(state, 'quit')).toBe('quit')
  })

  it('the viewer scrolls within its text', () => {
    const viewer = {title: 'dvctl dlq show DV_CMD:1', lines: Array.from({length: 50}, (_, i) => `line ${i}`), top: 0}
    const size = {columns: 80, rows: 12}
    scrollViewer(viewer, 'end', size)
    expect(viewer.top).toBe(41)
    scrollViewer(viewer, 100, size)
    expect(viewer.top).toBe(41)
    scrollViewer(viewer, -100, size)
    expect(viewer.top).toBe(0)
    const frame = viewerFrame(viewer, size)
    expect(frame[0]).toBe('dvctl dlq show DV_CMD:1')
    expect(frame.at(-1)).toMatch(/^lines 1-9 of 50/)
    expect(frame.length).toBe(11)
  })
})
