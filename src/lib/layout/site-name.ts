import {siteNameForUrl} from '../config/site.js'
import type {SiteConnection} from '../nats/connection.js'

/**
 * The name a layout's `sites:` overrides are looked up by: the configured site's name; for a site
 * addressed only by URL (`--server`), the server's JetStream domain, which is the site's datacenter_id
 * (DESIGN.md section 5), and the URL-derived name when the server has no domain.
 */
export async function siteNameOf(conn: SiteConnection): Promise<string> {
  const byUrlOnly = conn.site.servers.some((url) => siteNameForUrl(url) === conn.site.name)
  if (!byUrlOnly) return conn.site.name
  if (conn.site.js_domain) return conn.site.js_domain
  try {
    const info = await (await conn.jsm()).getAccountInfo()
    return (info as {domain?: string}).domain || conn.site.name
  } catch {
    return conn.site.name
  }
}
