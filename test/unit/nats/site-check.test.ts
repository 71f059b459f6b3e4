import {describe, expect, it} from 'vitest'

import {versionMismatch, type SiteCheckResult} from '../../../src/lib/nats/site-check.js'

const row = (site: string, version: string | null): SiteCheckResult => ({
  site,
  url: `nats://${site}`,
  connected: version !== null,
  server_version: version,
  jetstream: {enabled: version !== null, domain: site, api_level: null},
  rtt_ms: version === null ? null : 1,
})

describe('versionMismatch', () => {
  it('names each site and its version when the reachable sites differ', () => {
    expect(versionMismatch([row('osl1', '2.9.10'), row('trd1', '2.15.2')])).toMatch(
      /different nats-server versions \(osl1 2\.9\.10, trd1 2\.15\.2\)/,
    )
  })

  it('says nothing when they agree, or when only one site answered', () => {
    expect(versionMismatch([row('osl1', '2.15.2'), row('trd1', '2.15.2')])).toBeNull()
    expect(versionMismatch([row('osl1', '2.15.2'), row('trd1', null)])).toBeNull()
  })
})
