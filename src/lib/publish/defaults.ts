import type {PayloadRegistry} from '../contract/registry.js'
import type {SiteTarget} from '../config/site.js'
import type {SiteConnection} from '../nats/connection.js'
import type {BuildOptions, BuiltMessage, EnvelopeInput} from './envelope.js'

/** The sender's defaults from the config (DESIGN.md section 7): actor and payload schemas. */
export interface SenderDefaults {
  actor: string
  registry: PayloadRegistry
}

/**
 * Actor: the config's `actor`, else the OS user. Schemas: `--schemas` (or DVCTL_SCHEMAS), else the config's
 * `schemas`, else the built-ins, resolved as every command resolves them (contract/schemas.ts).
 */
export async function senderDefaults(options: {schemas?: string}): Promise<SenderDefaults> {
  const {loadConfig, operatorActor} = await import('../config/file.js')
  const {resolvePayloadRegistry} = await import('../contract/schemas.js')
  const [{config}, registry] = await Promise.all([loadConfig(), resolvePayloadRegistry({schemasDir: options.schemas})])
  return {actor: operatorActor(config), registry}
}

const SITE_NAME = /^[a-z0-9][a-z0-9_-]*$/

/**
 * `datacenter_id` of a site (DESIGN.md section 3: a site's name is its `datacenter_id`). A site addressed
 * only by URL has no such name, so its JetStream domain (each site is its own domain) stands in; when
 * neither is known the field is left out ("when applicable").
 */
export function configuredDatacenter(site: SiteTarget): string | undefined {
  if (site.js_domain) return site.js_domain
  return SITE_NAME.test(site.name) && site.name !== 'local' ? site.name : undefined
}

export async function siteDatacenter(conn: SiteConnection): Promise<string | undefined> {
  const configured = configuredDatacenter(conn.site)
  if (configured) return configured
  try {
    const jsm = await conn.jsm()
    const info = (await jsm.getAccountInfo()) as {domain?: string}
    return info.domain || undefined
  } catch {
    return undefined
  }
}

/**
 * The message again once connected: `datacenter_id` from the site unless given, and the server's
 * max_payload checked. The draft's id and time are kept, so what was checked offline is what is sent.
 */
export async function buildForSite(
  input: EnvelopeInput,
  draft: BuiltMessage,
  conn: SiteConnection,
  options: Omit<BuildOptions, 'maxPayload'>,
): Promise<BuiltMessage> {
  const {buildMessage} = await import('./envelope.js')
  return buildMessage(
    {
      ...input,
      datacenter: input.datacenter ?? (await siteDatacenter(conn)),
      id: String(draft.envelope.id),
      time: String(draft.envelope.time),
    },
    {...options, maxPayload: conn.nc.info?.max_payload},
  )
}
