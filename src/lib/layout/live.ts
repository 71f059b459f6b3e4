import type {ConsumerConfig, StreamConfig} from '@nats-io/jetstream'

import type {SiteConnection} from '../nats/connection.js'
import {connectionError} from '../nats/errors.js'
import {KV_STREAM_PREFIX} from './fields.js'

/** What a site holds now: its streams with their durable consumers, and its KV buckets. */
export interface LiveLayout {
  serverVersion: string
  streams: Record<string, LiveStream>
  /** Bucket name -> the config of its `KV_<bucket>` stream. */
  kv: Record<string, StreamConfig>
}

export interface LiveStream {
  config: StreamConfig
  /** Durable consumers only: ephemeral and ordered consumers belong to whoever is reading. */
  consumers: Record<string, ConsumerConfig>
}

/** Object stores are streams too; they are not the layout's to manage or prune. */
const FOREIGN_PREFIXES = ['OBJ_']

/** One stream listing, then every stream's consumers concurrently: about two round trips whatever the size. */
export async function readLiveLayout(conn: SiteConnection): Promise<LiveLayout> {
  const jsm = await conn.jsm()
  const live: LiveLayout = {serverVersion: conn.nc.info?.version ?? '0.0.0', streams: {}, kv: {}}
  try {
    const infos = []
    for await (const info of jsm.streams.list()) infos.push(info)
    await Promise.all(
      infos.map(async ({config}) => {
        if (config.name.startsWith(KV_STREAM_PREFIX)) {
          live.kv[config.name.slice(KV_STREAM_PREFIX.length)] = config
          return
        }
        if (FOREIGN_PREFIXES.some((p) => config.name.startsWith(p))) return
        const consumers: Record<string, ConsumerConfig> = {}
        for await (const ci of jsm.consumers.list(config.name)) {
          if (ci.config.durable_name) consumers[ci.name] = ci.config
        }
        live.streams[config.name] = {config, consumers}
      }),
    )
  } catch (error) {
    throw connectionError(conn.site, conn.url, error)
  }
  return live
}
