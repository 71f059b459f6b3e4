import type {SiteConnection} from '../nats/connection.js'
import {
  CONSUMER_FIELDS,
  consumerSpecFromServer,
  KV_FIELDS,
  kvSpecFromServer,
  STREAM_FIELDS,
  streamSpecFromServer,
  withoutDefaults,
} from './fields.js'
import {readLiveLayout} from './live.js'
import {unmarked} from './ownership.js'
import type {ConsumerSpec, KvSpec, Layout, StreamSpec} from './schema.js'
import {layoutSiteKey} from '../nats/site-identity.js'

/**
 * A site's live streams, durable consumers and KV buckets as a layout file: only what differs from the
 * server's defaults is written (no reserved `_nats.*`/`dvctl.*` metadata), and `plan` of the result
 * against the same site reports no changes.
 */
export async function exportLayout(conn: SiteConnection, now = new Date()): Promise<Layout> {
  const [site, live] = await Promise.all([conn.identity().then(layoutSiteKey), readLiveLayout(conn)])
  const streams: Record<string, StreamSpec> = {}
  for (const name of Object.keys(live.streams).sort()) {
    const {config, consumers} = live.streams[name]
    const spec = withoutDefaults(STREAM_FIELDS, unmarked(streamSpecFromServer(config))) as StreamSpec
    const names = Object.keys(consumers).sort()
    if (names.length) {
      spec.consumers = {}
      for (const consumer of names) {
        const exported = withoutDefaults(
          CONSUMER_FIELDS,
          unmarked(consumerSpecFromServer(consumers[consumer])),
        ) as ConsumerSpec
        // nats-server 2.9 echoes backoff[0] as ack_wait; writing it back would only restate the backoff.
        if (exported.backoff?.length && exported.ack_wait === exported.backoff[0]) delete exported.ack_wait
        // A pause is runtime state (an operator's, most likely): a layout made from it would pause the
        // consumer wherever it is applied next.
        delete exported.pause_until
        spec.consumers[consumer] = exported
      }
    }
    streams[name] = spec
  }
  const kv: Record<string, KvSpec> = {}
  for (const name of Object.keys(live.kv).sort()) {
    kv[name] = withoutDefaults(KV_FIELDS, unmarked(kvSpecFromServer(live.kv[name]))) as KvSpec
  }
  return {
    layout: site,
    description: `Exported from site ${site} (nats-server ${live.serverVersion}) at ${now.toISOString()}`,
    streams,
    kv,
    sites: {},
  }
}
