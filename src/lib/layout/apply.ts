import type {ConsumerConfig, StreamConfig} from '@nats-io/jetstream'
import type {KvOptions} from '@nats-io/kv'
import {z} from 'zod'

import {parseDuration} from '../duration.js'
import {refused, UserError} from '../errors.js'
import {ExitCode} from '../exit-codes.js'
import type {SiteConnection} from '../nats/connection.js'
import {dataverketLayout} from './dataverket.js'
import {CONSUMER_FIELDS, KV_FIELDS, KV_STREAM_PREFIX, specToServer, STREAM_FIELDS} from './fields.js'
import {readLiveLayout} from './live.js'
import {LayoutPlan, LiveObject, planLayout, type LayoutChange} from './plan.js'
import {layoutForSite} from './resolve.js'
import type {ConsumerSpec, KvSpec, Layout, SiteLayout} from './schema.js'
import {siteNameOf} from './site-name.js'
import {unsupportedFields, unsupportedLayout} from './version-gate.js'

export const FailedChange = LiveObject.extend({action: z.string(), error: z.string()})
export type FailedChange = z.infer<typeof FailedChange>

/** `layout plan|apply --json` (DESIGN.md section 11). */
export const LayoutResult = LayoutPlan.extend({
  applied: z.boolean(),
  failed: z.array(FailedChange),
})
export type LayoutResult = z.infer<typeof LayoutResult>

export interface ApplyOptions {
  /** Allow `recreate` changes, which delete the stream (and its messages) or the consumer first. */
  allowRecreate?: boolean
}

/**
 * Carries out a plan on a site. Deletions first (so a recreated stream's name is free), then streams and
 * KV buckets concurrently, then consumers concurrently (they need their streams). A failed change is
 * recorded and the independent ones still run; a consumer whose stream failed is not attempted.
 */
export async function applyPlan(
  conn: SiteConnection,
  declared: SiteLayout,
  plan: LayoutPlan,
  options: ApplyOptions = {},
): Promise<LayoutResult> {
  const recreates = plan.changes.filter((c) => c.action === 'recreate')
  if (recreates.length && !options.allowRecreate) throw recreateRefused(recreates)
  const jsm = await conn.jsm()
  const failed: FailedChange[] = []
  const brokenStreams = new Set<string>()

  const attempt = async (change: LayoutChange, work: () => Promise<unknown>) => {
    try {
      await work()
    } catch (error) {
      // A stream that failed to update still exists, so its consumers can still be brought in line.
      if (change.kind === 'stream' && change.action !== 'update') brokenStreams.add(change.name)
      failed.push({
        kind: change.kind,
        name: change.name,
        ...(change.stream ? {stream: change.stream} : {}),
        action: change.action,
        error: (error as Error).message,
      })
    }
  }
  const of = (kind: LayoutChange['kind'], ...actions: LayoutChange['action'][]) =>
    plan.changes.filter((c) => c.kind === kind && actions.includes(c.action))

  // Consumers of a recreated stream vanish with it; only consumers recreated on their own are deleted here.
  const recreatedStreams = new Set(of('stream', 'recreate').map((c) => c.name))
  await Promise.all(
    of('consumer', 'delete', 'recreate')
      .filter((c) => !recreatedStreams.has(c.stream!))
      .map((c) => attempt(c, () => jsm.consumers.delete(c.stream!, c.name))),
  )
  await Promise.all([
    ...of('stream', 'delete', 'recreate').map((c) => attempt(c, () => jsm.streams.delete(c.name))),
    ...of('kv', 'delete', 'recreate').map((c) => attempt(c, () => jsm.streams.delete(KV_STREAM_PREFIX + c.name))),
  ])

  await Promise.all([
    ...of('stream', 'create', 'recreate', 'update')
      .filter((c) => !failed.some((f) => f.kind === 'stream' && f.name === c.name))
      .map((c) => {
        const {consumers: _consumers, ...spec} = declared.streams[c.name]
        const config = specToServer(STREAM_FIELDS, spec, declared.site) as Partial<StreamConfig>
        return attempt(c, async () => {
          if (c.action !== 'update') return jsm.streams.add({...config, name: c.name})
          if (config.metadata) config.metadata = await keepOwnMarks(config.metadata, jsm.streams.info(c.name))
          return jsm.streams.update(c.name, config)
        })
      }),
    ...of('kv', 'create', 'recreate', 'update')
      .filter((c) => !failed.some((f) => f.kind === 'kv' && f.name === c.name))
      .map((c) => attempt(c, () => writeBucket(conn, c, declared.kv[c.name]))),
  ])

  await Promise.all(
    of('consumer', 'create', 'recreate', 'update').map((c) => {
      const stream = c.stream!
      if (brokenStreams.has(stream)) {
        failed.push({kind: 'consumer', name: c.name, stream, action: c.action, error: `stream ${stream} failed`})
        return undefined
      }
      const spec = declared.streams[stream].consumers![c.name]
      return attempt(c, () => writeConsumer(jsm, c, spec, declared.site))
    }),
  )

  return {...plan, applied: true, failed}
}

type Jsm = Awaited<ReturnType<SiteConnection['jsm']>>

/**
 * A consumer update sends only what the layout sets, merged by the client over the live config, so an
 * operator's pause survives it; the server ignores pause_until in an update, so a declared one that
 * differs goes through the pause API. A consumer created again keeps the pause in force it had.
 */
async function writeConsumer(jsm: Jsm, change: LayoutChange, spec: ConsumerSpec, site: string): Promise<void> {
  const stream = change.stream!
  const config = specToServer(CONSUMER_FIELDS, spec, site) as Partial<ConsumerConfig>
  if (change.action !== 'update') {
    const pause = change.state?.find((s) => s.field === 'pause_until')
    if (pause && !config.pause_until) config.pause_until = pause.value as string
    await jsm.consumers.add(stream, {...config, durable_name: change.name})
    return
  }
  if (change.diff.some((d) => d.field !== 'pause_until')) {
    if (config.metadata) config.metadata = await keepOwnMarks(config.metadata, jsm.consumers.info(stream, change.name))
    await jsm.consumers.update(stream, change.name, config)
  }
  if (spec.pause_until && change.diff.some((d) => d.field === 'pause_until')) {
    await jsm.consumers.pause(stream, change.name, new Date(spec.pause_until))
  }
}

/**
 * Declared metadata replaces the live map on update; dvctl's own `dvctl.*` marks on the live object are
 * not the layout's, so they are carried over (the server keeps its `_nats.*` keys itself).
 */
async function keepOwnMarks(
  declared: Record<string, string>,
  info: Promise<{config: {metadata?: Record<string, string>}}>,
): Promise<Record<string, string>> {
  const live = (await info).config.metadata ?? {}
  const kept = Object.fromEntries(Object.entries(live).filter(([key]) => key.startsWith('dvctl.')))
  return {...kept, ...declared}
}

/** Buckets are created through the KV client (it sets the stream up as a bucket); changed limits update the stream. */
async function writeBucket(conn: SiteConnection, change: LayoutChange, spec: KvSpec): Promise<void> {
  if (change.action === 'update') {
    const jsm = await conn.jsm()
    const stream = KV_STREAM_PREFIX + change.name
    const config = specToServer(KV_FIELDS, spec, '') as Partial<StreamConfig>
    if (config.metadata) config.metadata = await keepOwnMarks(config.metadata, jsm.streams.info(stream))
    await jsm.streams.update(stream, config)
    return
  }
  const {Kvm} = await import('@nats-io/kv')
  await new Kvm(await conn.js()).create(change.name, {
    ...(spec.description ? {description: spec.description} : {}),
    ...(spec.history ? {history: spec.history} : {}),
    ...(spec.ttl ? {ttl: parseDuration(spec.ttl)} : {}),
    ...(spec.max_bytes !== undefined ? {max_bytes: spec.max_bytes} : {}),
    ...(spec.max_value_size !== undefined ? {maxValueSize: spec.max_value_size} : {}),
    ...(spec.storage ? {storage: spec.storage} : {}),
    ...(spec.replicas ? {replicas: spec.replicas} : {}),
    ...(spec.compression ? {compression: spec.compression === 's2'} : {}),
    ...(spec.metadata ? {metadata: spec.metadata} : {}),
  } as Partial<KvOptions>)
}

export function recreateRefused(recreates: LayoutChange[]) {
  const names = recreates.map((c) => (c.stream ? `${c.stream}/${c.name}` : c.name)).join(', ')
  const streams = recreates.some((c) => c.kind !== 'consumer')
  return refused(
    `The plan recreates ${names}${streams ? ': recreating a stream deletes all of its messages' : ''}. Nothing was changed.`,
    'recreate-refused',
    'Re-run with --allow-recreate if losing them is acceptable, or change the layout to match the live setting.',
  )
}

/** Plans a layout (the built-in `dataverket` one by default) against a site. */
export async function planSite(
  conn: SiteConnection,
  layout: Layout = dataverketLayout(),
  options: {prune?: boolean} = {},
): Promise<{declared: SiteLayout; plan: LayoutPlan}> {
  const [site, live] = await Promise.all([siteNameOf(conn), readLiveLayout(conn)])
  const declared = layoutForSite(layout, site)
  // Before any plan is shown or applied: an older server would drop these fields without an error.
  const unsupported = unsupportedFields(declared, live.serverVersion)
  if (unsupported.length) throw unsupportedLayout(site, live.serverVersion, unsupported)
  return {declared, plan: planLayout(declared, live, options)}
}

/**
 * Makes a site match a layout (the built-in `dataverket` one by default): creates what is missing and
 * updates what differs, never deletes or recreates. Sandbox and test fixtures use it. A change that
 * needs recreating is refused (exit 6); a failed change throws.
 */
export async function ensureLayout(conn: SiteConnection, layout?: Layout): Promise<LayoutResult> {
  const {declared, plan} = await planSite(conn, layout)
  const result = await applyPlan(conn, declared, plan)
  if (result.failed.length) {
    const first = result.failed[0]
    throw new UserError(`Layout not applied on ${declared.site}: ${first.kind} ${first.name}: ${first.error}`, {
      code: 'layout-apply-failed',
      exitCode: ExitCode.partial,
      hint: 'Run dvctl layout plan to see what differs.',
    })
  }
  return result
}
