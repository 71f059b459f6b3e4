import {describe, expect, it} from 'vitest'

import {doctorExitCode, type DoctorSite} from '../../../src/lib/doctor/check.js'

describe('doctorExitCode', () => {
  const site = (over: Partial<DoctorSite>): DoctorSite => ({
    site: 's',
    url: 'nats://x',
    reachable: true,
    server_version: '2.9.10',
    jetstream: {enabled: true, domain: 's'},
    layout: null,
    dlq_capture: null,
    dlq_archive: null,
    consumers: [],
    dead_letters_pending: 0,
    oldest_unacked: null,
    sources: [],
    replication: [],
    problems: [],
    warnings: [],
    ...over,
  })
  const problem = {code: 'layout-drift', message: 'drift'}

  it('is 0 with only warnings, 10 with problems, 4 when any site is unreachable', () => {
    expect(doctorExitCode({healthy: true, sites: [site({warnings: [problem]})]})).toBe(0)
    expect(doctorExitCode({healthy: false, sites: [site({problems: [problem]})]})).toBe(10)
    expect(doctorExitCode({healthy: false, sites: [site({problems: [problem]}), site({reachable: false})]})).toBe(4)
    expect(doctorExitCode({healthy: false, sites: [site({jetstream: {enabled: false, domain: null}})]})).toBe(4)
  })
})
