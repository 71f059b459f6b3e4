import type {SiteTarget} from '../config/site.js'
import type {PayloadRegistry} from '../contract/registry.js'
import type {SiteConnection} from '../nats/connection.js'
import {configuredDatacenterId} from '../nats/site-identity.js'
import {buildForSite, senderDefaults} from './defaults.js'
import {buildMessage, type BuildOptions, type BuiltMessage, type EnvelopeInput} from './envelope.js'
import {envelopeInputFromFlags, type EnvelopeFlagValues} from './flags.js'

/** What each sending command may send, and which command takes the rest. */
const SENDERS: Record<'publish' | 'request', Pick<BuildOptions, 'families' | 'otherCommand'>> = {
  publish: {families: ['cmd', 'evt', 'task'], otherCommand: 'dvctl request for dv.rpc.* subjects'},
  request: {families: ['rpc'], otherCommand: 'dvctl publish for commands and events'},
}

/**
 * How `publish` and `request` turn their flags into a checked message, in one place: the sender's
 * defaults (actor from the config or the OS user, datacenter_id from the site, team schemas), the
 * envelope input, the build before connecting and the build again once connected (what only the server
 * knows: datacenter_id of a site known by URL, max_payload). Builds never throw: problems are values.
 */
export interface MessageSender {
  registry: PayloadRegistry
  /** The envelope input of the flags, with `data` and the sender's defaults filled in. */
  input(data: unknown): EnvelopeInput
  /** Builds and checks the message before anything is connected. */
  build(input: EnvelopeInput): BuiltMessage
  /** Builds it again for the connected site, keeping the draft's id and time. */
  buildForSite(input: EnvelopeInput, draft: BuiltMessage, conn: SiteConnection): Promise<BuiltMessage>
}

export async function messageSender(
  command: keyof typeof SENDERS,
  subject: string,
  flags: EnvelopeFlagValues & {schemas?: string; strict?: boolean},
  target: SiteTarget,
): Promise<MessageSender> {
  const defaults = await senderDefaults({schemas: flags.schemas})
  const options = {registry: defaults.registry, strict: flags.strict, ...SENDERS[command]}
  const datacenter = configuredDatacenterId(target)
  return {
    registry: defaults.registry,
    input: (data) => envelopeInputFromFlags(subject, flags, {data, actor: defaults.actor, datacenter}),
    build: (input) => buildMessage(input, options),
    buildForSite: (input, draft, conn) => buildForSite(input, draft, conn, options),
  }
}
