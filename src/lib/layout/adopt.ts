import type {ConsumerConfig, StreamConfig} from '@nats-io/jetstream'
import {z} from 'zod'

import {mapPool} from '../dlq/pool.js'
import type {SiteConnection} from '../nats/connection.js'
import {describeNatsError, isSiteLost} from '../nats/errors.js'
import {KV_STREAM_PREFIX} from './fields.js'
import {forServer} from './apply.js'
import {readLiveLayout} from './live.js'
import {neverPruned, ownerOf, requireLayoutName, withMark} from './ownership.js'
import {LiveObject} from './plan.js'
import {layoutForSite} from './resolve.js'
import type {Layout} from './schema.js'
import {layoutSiteKey} from '../nats/site-identity.js'

/** `layout adopt --json`. */
export const AdoptResult = z.object({
  site: z.string(),
  layout: z.string(),
  dry_run: z.boolean(),
  /** Marked now (or, with --dry-run, to be marked). */
  adopted: z.array(LiveObject),
  /** Already marked for this layout. */
  already: z.array(LiveObject),
  /** Left alone: marked for another layout, or owned by the server. */
  skipped: z.array(LiveObject.extend({reason: z.string()})),
  failed: z.array(LiveObject.extend({error: z.string(), code: z.string().optional()})),
  /** Not tried because the site stopped answering. */
  not_attempted: z.array(LiveObject),
})
export type AdoptResult = z.infer<typeof AdoptResult>

interface Candidate extends LiveObject {
  config: StreamConfig | ConsumerConfig
}

/**
 * Claims for a layout the live objects that carry its names but were created before dvctl marked what it
 * creates (or by hand), so that `--prune` may later delete them (ownership.ts). Only the mark changes:
 * metadata on 2.10+, the description suffix on 2.9. An object marked for another layout is left alone.
 */
export async function adoptLayout(
  conn: SiteConnection,
  layout: Layout,
  options: {dryRun?: boolean} = {},
): Promise<AdoptResult> {
  const name = requireLayoutName(layout, 'layout adopt')
  const [site, live] = await Promise.all([conn.identity().then(layoutSiteKey), readLiveLayout(conn)])
  const declared = layoutForSite(forServer(layout, live.serverVersion), site)
  const result: AdoptResult = {
    site,
    layout: name,
    dry_run: Boolean(options.dryRun),
    adopted: [],
    already: [],
    skipped: [],
    failed: [],
    not_attempted: [],
  }

  const candidates: Candidate[] = []
  for (const [stream, spec] of Object.entries(declared.streams)) {
    const current = live.streams[stream]
    if (!current) continue
    candidates.push({kind: 'stream', name: stream, config: current.config})
    for (const consumer of Object.keys(spec.consumers ?? {})) {
      const config = current.consumers[consumer]
      if (config) candidates.push({kind: 'consumer', name: consumer, stream, config})
    }
  }
  for (const bucket of Object.keys(declared.kv)) {
    if (live.kv[bucket]) candidates.push({kind: 'kv', name: bucket, config: live.kv[bucket]})
  }

  const toMark: Candidate[] = []
  for (const candidate of candidates) {
    const {config, ...object} = candidate
    const owner = ownerOf(config)
    const serverOwned = neverPruned(object.kind, object.name, config) === 'server-owned'
    if (owner === name) result.already.push(object)
    else if (owner) result.skipped.push({...object, reason: `marked for layout ${owner}`})
    else if (serverOwned) result.skipped.push({...object, reason: 'owned by the server'})
    else toMark.push(candidate)
  }
  if (options.dryRun) {
    result.adopted = toMark.map(({config: _config, ...object}) => object)
    return result
  }

  const jsm = await conn.jsm()
  let lost = false
  await mapPool(toMark, 16, async ({config, ...object}) => {
    if (lost) {
      result.not_attempted.push(object)
      return
    }
    const mark = withMark({}, name, live.serverVersion, config)
    try {
      if (object.kind === 'consumer') await jsm.consumers.update(object.stream!, object.name, mark)
      else await jsm.streams.update(object.kind === 'kv' ? KV_STREAM_PREFIX + object.name : object.name, mark)
      result.adopted.push(object)
    } catch (error) {
      if (isSiteLost(error, conn.nc)) lost = true
      result.failed.push({...object, ...describeNatsError(error)})
    }
  })
  return result
}
