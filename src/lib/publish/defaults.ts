import type {PayloadRegistry} from '../contract/registry.js'
import type {SiteConnection} from '../nats/connection.js'
import type {BuildOptions, BuiltMessage, EnvelopeInput} from './envelope.js'

/** The sender's defaults from the config (README, "Commands"): actor and payload schemas. */
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
      // The site's datacenter_id (nats/site-identity.ts) unless --datacenter was given.
      datacenter: input.datacenter ?? (await conn.identity()).datacenterId ?? undefined,
      id: String(draft.envelope.id),
      time: String(draft.envelope.time),
    },
    {...options, maxPayload: conn.nc.info?.max_payload},
  )
}
