import {describe, expect, it} from 'vitest'

import {isExpired, JOB_RETENTION_MS, shownJob, type StoredJob} from '../../../src/lib/dlq/jobs.js'

const DAY = 24 * 3600 * 1000
const t0 = Date.parse('2026-12-01T10:00:00Z')

function job(state: StoredJob['state'], at: number): StoredJob {
  const iso = new Date(at).toISOString()
  return {
    id: 'r1',
    state,
    done: 1,
    total: 2,
    failed: 0,
    actor: 'bob',
    reason: null,
    started_at: iso,
    updated_at: iso,
    heartbeat_at: iso,
  }
}

describe('job retention (isExpired): what a listing removes', () => {
  it('removes a finished job once its last write is older than the retention by this clock', () => {
    for (const state of ['completed', 'cancelled', 'failed'] as const) {
      const stored = new Date(t0)
      expect(isExpired(job(state, t0), stored, {now: t0 + JOB_RETENTION_MS + 1, newest: t0})).toBe(true)
      expect(isExpired(job(state, t0), stored, {now: t0 + JOB_RETENTION_MS - 1, newest: t0})).toBe(false)
    }
  })

  it('removes an interrupted job once the bucket stored something more than the retention after its last write', () => {
    for (const state of ['running', 'cancelling'] as const) {
      const old = job(state, t0)
      expect(shownJob(old, t0 + 8 * DAY).state).toBe('interrupted')
      expect(isExpired(old, new Date(t0), {now: t0 + 8 * DAY, newest: t0 + 8 * DAY})).toBe(true)
      expect(isExpired(old, new Date(t0), {now: t0 + 8 * DAY, newest: t0 + 6 * DAY})).toBe(false)
    }
  })

  it('never removes a live job, whatever the reading clock says: its own heartbeat is the newest write', () => {
    const live = job('running', t0)
    // A lister whose clock runs 30 days ahead sees the heartbeat as stale (interrupted), but keeps the job.
    expect(shownJob(live, t0 + 30 * DAY).state).toBe('interrupted')
    expect(isExpired(live, new Date(t0), {now: t0 + 30 * DAY, newest: t0 + 1000})).toBe(false)
    // A bucket whose newest time cannot be read (an empty stream's zero time, garbage) removes nothing live.
    expect(isExpired(live, new Date(t0), {now: t0 + 30 * DAY, newest: Number.NaN})).toBe(false)
    expect(isExpired(live, new Date(t0), {now: t0 + 30 * DAY, newest: Date.parse('0001-01-01T00:00:00Z')})).toBe(false)
  })
})
