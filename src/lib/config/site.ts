import type {SiteChecks} from './file.js'
import {stripUrlCredentials} from './url.js'

/**
 * A site is one datacenter's NATS entry point (docs/operations.md, sites). `name` is the site's `datacenter_id`.
 * Secrets are paths to files that hold them; only a server URL may carry a user:password or token
 * (stored only with `--allow-inline-secret`, always shown redacted).
 */
export interface SiteTarget {
  name: string
  servers: string[]
  creds?: string
  nkey?: string
  token_file?: string
  user?: string
  password_file?: string
  tls?: {ca?: string; cert?: string; key?: string; insecure?: boolean}
  js_domain?: string
  description?: string
  /** Alerting thresholds for `dvctl check` (config file `checks:`), as written there. */
  checks?: SiteChecks
  /**
   * Addressed only by URL (`--server`, NATS_URL, the default URL): `name` is made from the URL and names
   * no datacenter, so the site's datacenter_id comes from its server (nats/site-identity.ts).
   */
  byUrl?: boolean
}

export const DEFAULT_SERVER = 'nats://127.0.0.1:4222'

/**
 * The name given to a site addressed by URL only (`--server`, `NATS_URL`, or the built-in default):
 * host and port, without the scheme or any credentials the URL carries.
 */
export function siteNameForUrl(url: string): string {
  return url === DEFAULT_SERVER ? 'local' : stripUrlCredentials(url).replace(/^\w+:\/\//, '')
}
