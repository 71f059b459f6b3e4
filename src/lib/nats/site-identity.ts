import type {ServerInfo} from '@nats-io/transport-node'
import type {JetStreamManager} from '@nats-io/jetstream'

import type {SiteTarget} from '../config/site.js'
import type {UserError} from '../errors.js'

/**
 * Who a connected site is: the one answer every command uses (publish defaults, layout `sites:` overrides,
 * dead-letter attribution, doctor, site check, workflow). Resolved once per connection (SiteConnection.identity).
 *
 * The rule (docs/contract.md, "datacenter_id"): a site's `datacenter_id` is its configured name. A site
 * addressed only by URL (`--server`, NATS_URL, the default URL) has no name of its own, so it is the
 * server's JetStream domain (each site is its own domain, named after its datacenter_id), else the
 * server's configured `server_name`; a server with neither gives no datacenter_id. A configured site's
 * `js_domain` only says where its JetStream API is; it never names the site.
 */
export interface SiteIdentity {
  /** The site's name: as configured, or host:port for a site addressed by URL. */
  name: string
  /** `datacenter_id` stamped on what is published, and the key of the layout's `sites:` overrides. */
  datacenterId: string | null
  /**
   * The JetStream domain that answers this site's API requests (account info), else the configured
   * `js_domain`, else the connected server's own domain. Dead-letter advisories are attributed by it.
   */
  jsDomain: string | null
  serverName: string | null
  serverVersion: string | null
  /** The JetStream API level (nats-server 2.11+); null on older servers (2.9, 2.10). */
  apiLevel: number | null
  /** JetStream answered the account-info request. */
  jetstream: boolean
  /** Why JetStream did not answer (translated), when it did not; such an identity is not kept. */
  jetstreamError?: UserError
}

/**
 * `datacenter_id` known before connecting: a configured site's name. Undefined for a site addressed by
 * URL, whose datacenter_id comes from the server (SiteIdentity.datacenterId).
 */
export function configuredDatacenterId(site: SiteTarget): string | undefined {
  return site.byUrl ? undefined : site.name
}

/** The key of the layout's `sites:` overrides for a site: its datacenter_id, else its name. */
export const layoutSiteKey = (identity: SiteIdentity): string => identity.datacenterId ?? identity.name

interface AccountFacts {
  domain?: string
  api?: {level?: number}
}

/** What nats-server puts in INFO: 2.11+ adds `api_lvl`; `domain` is the server's JetStream domain. */
type Info = ServerInfo & {domain?: string; api_lvl?: number}

/**
 * Resolves a site's identity from the server's INFO (which the client has from the handshake) and one
 * account-info request (`$JS.API.INFO`, through the site's js_domain). When JetStream does not answer, the
 * identity is still given, from INFO alone, with `jetstreamError` saying why.
 */
export async function resolveIdentity(
  site: SiteTarget,
  serverInfo: ServerInfo | undefined,
  jsm: () => Promise<JetStreamManager>,
  translate: (error: unknown) => UserError,
): Promise<SiteIdentity> {
  const info = serverInfo as Info | undefined
  let account: AccountFacts | undefined
  let jetstreamError: UserError | undefined
  try {
    account = (await (await jsm()).getAccountInfo()) as AccountFacts
  } catch (error) {
    jetstreamError = translate(error)
  }
  const text = (v: unknown) => (typeof v === 'string' && v.length > 0 ? v : null)
  const jsDomain = text(account?.domain) ?? text(site.js_domain) ?? text(info?.domain)
  const level = account?.api?.level ?? info?.api_lvl
  // A server without `server_name` in its config reports its id as its name: that names no datacenter.
  const serverName = text(info?.server_name)
  const namedServer = serverName && serverName !== info?.server_id ? serverName : null
  const datacenterId = site.byUrl ? (text(account?.domain) ?? text(info?.domain) ?? namedServer) : site.name
  return {
    name: site.name,
    datacenterId,
    jsDomain,
    serverName,
    serverVersion: text(info?.version),
    apiLevel: typeof level === 'number' ? level : null,
    jetstream: account !== undefined,
    ...(jetstreamError ? {jetstreamError} : {}),
  }
}
