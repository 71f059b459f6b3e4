/**
 * A site is one datacenter's NATS entry point (DESIGN.md section 3). `name` is the site's `datacenter_id`.
 * Secrets are never stored inline: only paths to files that hold them.
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
}

export const DEFAULT_SERVER = 'nats://127.0.0.1:4222'

/** The name given to a site addressed by URL only (`--server`, `NATS_URL`, or the built-in default). */
export function siteNameForUrl(url: string): string {
  return url === DEFAULT_SERVER ? 'local' : url.replace(/^\w+:\/\//, '')
}
