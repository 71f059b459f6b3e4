import {spawnSync} from 'node:child_process'

import {describe, expect, it} from 'vitest'

import {DEFAULT_THRESHOLDS, evaluateSite, checkResult, thresholdsFor} from '../../../src/lib/health/check.js'
import {checkFamilies} from '../../../src/lib/health/metrics.js'
import type {SiteSnapshot} from '../../../src/lib/health/snapshot.js'
import {nagiosLine} from '../../../src/lib/render/check.js'
import {escapeLabelValue, exposition} from '../../../src/lib/render/prometheus.js'

/** A consumer name as hostile as the server accepts: quotes, backslashes, a pipe and an escape sequence. */
const HOSTILE = 'evil"\\name|\u001b[2J'

function snapshot(overrides: Partial<SiteSnapshot> = {}): SiteSnapshot {
  return {
    site: 'osl1',
    url: 'nats://127.0.0.1:4222',
    taken_at: '2026-12-02T10:00:00.000Z',
    reachable: true,
    error: null,
    server_version: '2.9.10',
    errors: [],
    dead_letters: {
      pending: 2,
      groups: [{stream: 'DV_CMD', consumer: HOSTILE, reason: 'terminated', count: 2, oldest_age_ms: 90_000}],
      oldest: {
        ref: 'DV_CMD:7',
        stream: 'DV_CMD',
        seq: 7,
        consumer: HOSTILE,
        reason: 'terminated',
        dead_lettered_at: '2026-12-02T09:58:30.000Z',
        age_ms: 90_000,
      },
      recent: [],
      advisories_read: 2,
    },
    consumers: [{stream: 'DV_CMD', name: HOSTILE, filter_subject: null, pending: 3, ack_pending: 1, redelivered: 0}],
    oldest_unacked: null,
    tasks: {by_state: {started: 1}, total: 1, stalled: [], stalled_count: 0, stalled_after_ms: 300_000},
    sources: [],
    ...overrides,
  }
}

describe('check rendering', () => {
  it('escapes label values so a hostile name cannot break a line or forge a sample; promtool accepts it', () => {
    expect(escapeLabelValue('a"b\\c\nd')).toBe('a\\"b\\\\c\\nd')
    const site = evaluateSite(snapshot(), DEFAULT_THRESHOLDS)
    const text = exposition(checkFamilies([site]))
    expect(text).toContain(
      'dvctl_dead_letters_pending{site="osl1",stream="DV_CMD",consumer="evil\\"\\\\name|\u001b[2J",reason="terminated"} 2',
    )
    expect(text.split('\n').filter((l) => l && !l.startsWith('#') && !/^dvctl_\w+(\{.*\})? \S+$/.test(l))).toEqual([])
    const promtool = spawnSync('promtool', ['check', 'metrics'], {input: text, encoding: 'utf8'})
    if (promtool.error) return // promtool not installed: the integration test requires it
    expect(promtool.stdout + promtool.stderr).toBe('')
    expect(promtool.status).toBe(0)
  })

  it('the Nagios line is one line, no pipe or control character before the perfdata', () => {
    const site = evaluateSite(snapshot(), {...DEFAULT_THRESHOLDS, lag_warn: 2})
    const line = nagiosLine(checkResult([site]))
    expect(line.split('\n')).toHaveLength(1)
    const [summary, perf] = line.split(' | ')
    expect(summary).toMatch(/^DVCTL WARNING - osl1: 2 pending dead letter\(s\)/)
    // eslint-disable-next-line no-control-regex
    expect(summary).not.toMatch(/[\u0000-\u001f|]/)
    expect(perf).toContain("'osl1_dlq_pending'=2;0;100;0")
    expect(perf).toContain("'osl1_lag_evil_name_2J'=4;2;1000;0")
  })

  it('thresholds: a flag wins over the config file, which wins over the default', () => {
    const t = thresholdsFor({dlq_pending_crit: 7, dlq_oldest_warn: '10m', stalled_task: '1h'}, {stalled_task_ms: 1000})
    expect(t).toMatchObject({
      dlq_pending_warn: 0,
      dlq_pending_crit: 7,
      dlq_oldest_warn_ms: 600_000,
      stalled_task_ms: 1000,
    })
  })

  it('an unreachable site is critical, an unreadable part unknown', () => {
    const down = evaluateSite(snapshot({reachable: false, error: 'connection refused'}), DEFAULT_THRESHOLDS)
    expect(down.status).toBe('critical')
    const part = evaluateSite(snapshot({dead_letters: null, errors: [{part: 'dead_letters', message: 'no DV_DLQ'}]}), {
      ...DEFAULT_THRESHOLDS,
      lag_warn: 100,
    })
    expect(part.findings.map((f) => [f.status, f.code])).toEqual([['unknown', 'dead-letters-unreadable']])
  })
})
