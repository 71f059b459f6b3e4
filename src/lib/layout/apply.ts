import type {ConsumerConfig, StreamConfig} from '@nats-io/jetstream'
import type {KvOptions} from '@nats-io/kv'
import {z} from 'zod'

import {parseDuration} from '../duration.js'
import {refused, UserError} from '../errors.js'
import {ExitCode} from '../exit-codes.js'
import type {SiteConnection} from '../nats/connection.js'
import {builtInOptions, dataverketLayout} from './dataverket.js'
import {CONSUMER_FIELDS, KV_FIELDS, KV_STREAM_PREFIX, specToServer, STREAM_FIELDS} from './fields.js'
import {readLiveLayout} from './live.js'
import {mapPool} from '../dlq/pool.js'
import {describeNatsError, isSiteLost} from '../nats/errors.js'
import {supportsMetadata} from '../nats/server-version.js'
import {type Markable, withMark} from './ownership.js'
import {ChangeAction, LayoutPlan, LiveObject, planLayout, type LayoutChange} from './plan.js'
import {layoutForSite} from './resolve.js'
import type {ConsumerSpec, KvSpec, Layout, SiteLayout} from './schema.js'
import {layoutSiteKey} from '../nats/site-identity.js'
import {unsupportedFields, unsupportedLayout} from './version-gate.js'

export const DoneChange = LiveObject.extend({action: ChangeAction})
export type DoneChange = z.infer<typeof DoneChange>
/** `error`: what happened, in dvctl's words; `code`: stable, for scripts (nats/errors.ts). */
export const FailedChange = DoneChange.extend({error: z.string(), code: z.string().optional()})
export type FailedChange = z.infer<typeof FailedChange>
export const SkippedChange = DoneChange.extend({reason: z.string()})
export type SkippedChange = z.infer<typeof SkippedChange>

/** `layout plan|apply --json` (docs/architecture.md, JSON results). */
export const LayoutResult = LayoutPlan.extend({
  applied: z.boolean(),
  /** Changes made. */
  done: z.array(DoneChange),
  /** Changes the server refused or that were cut off, with the error. */
  failed: z.array(FailedChange),
  /** Changes not tried: the site was lost, or what they need (a consumer's stream) failed. */
  not_attempted: z.array(SkippedChange),
})
export type LayoutResult = z.infer<typeof LayoutResult>

/** A plan shown, not applied. */
export const unapplied = (plan: LayoutPlan): LayoutResult => ({
  ...plan,
  applied: false,
  done: [],
  failed: [],
  not_attempted: [],
})

export interface ApplyOptions {
  /** Allow `recreate` changes, which delete the stream (and its messages) or the consumer first. */
  allowRecreate?: boolean
  /**
   * Ctrl-C: no change is started after it; the requests already sent finish and are reported, the rest is
   * not attempted (reason `interrupted`), and running the apply again finishes it.
   */
  signal?: AbortSignal
}

/** Requests in flight at once: one round trip per object, concurrently, bounded so a lost site stops the rest. */
const IN_FLIGHT = 16

/**
 * Carries out a plan on a site. Deletions first (so a recreated stream's name is free), then streams and
 * KV buckets concurrently, then consumers concurrently (they need their streams). A failed change is
 * recorded and the independent ones still run; a consumer whose stream failed is not attempted. When the
 * site stops answering, nothing more is attempted: the result lists what was done, what failed and what
 * was not attempted (exit 68), and running the apply again finishes the rest. What dvctl creates carries
 * the layout's ownership mark (ownership.ts); an update keeps the mark the object has.
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
  const version = conn.nc.info?.version ?? '0.0.0'
  const result: LayoutResult = {...unapplied(plan), applied: true}
  const brokenStreams = new Set<string>()
  let lost: string | undefined
  const object = (c: LayoutChange): DoneChange => ({
    kind: c.kind,
    name: c.name,
    ...(c.stream ? {stream: c.stream} : {}),
    action: c.action,
  })
  const failedAlready = (c: LayoutChange) =>
    result.failed.some((f) => f.kind === c.kind && f.name === c.name && f.stream === c.stream)

  /** One change, or one step of it (`last` false for the deletion half of a recreate). */
  const attempt = async (change: LayoutChange, work: () => Promise<unknown>, last = true) => {
    if (lost || options.signal?.aborted) {
      result.not_attempted.push({...object(change), reason: lost ?? 'interrupted'})
      return
    }
    try {
      await work()
      if (last) result.done.push(object(change))
    } catch (error) {
      if (isSiteLost(error, conn.nc)) lost ??= `site ${plan.site} stopped answering`
      // A stream that failed to update still exists, so its consumers can still be brought in line.
      if (change.kind === 'stream' && change.action !== 'update') brokenStreams.add(change.name)
      result.failed.push({...object(change), ...describeNatsError(error)})
    }
  }
  const of = (kind: LayoutChange['kind'], ...actions: LayoutChange['action'][]) =>
    plan.changes.filter((c) => c.kind === kind && actions.includes(c.action))
  const run = (changes: LayoutChange[], one: (c: LayoutChange) => Promise<void>) => mapPool(changes, IN_FLIGHT, one)
  const mark = <T extends Markable>(change: LayoutChange, config: T) => markFor(change, config, declared.name, version)

  // Consumers of a recreated stream vanish with it; only consumers recreated on their own are deleted here.
  const recreatedStreams = new Set(of('stream', 'recreate').map((c) => c.name))
  await run(
    of('consumer', 'delete', 'recreate').filter((c) => !recreatedStreams.has(c.stream!)),
    (c) => attempt(c, () => jsm.consumers.delete(c.stream!, c.name), c.action === 'delete'),
  )
  await run([...of('stream', 'delete', 'recreate'), ...of('kv', 'delete', 'recreate')], (c) =>
    attempt(c, () => jsm.streams.delete(c.kind === 'kv' ? KV_STREAM_PREFIX + c.name : c.name), c.action === 'delete'),
  )

  await run(
    [...of('stream', 'create', 'recreate', 'update'), ...of('kv', 'create', 'recreate', 'update')].filter(
      (c) => !failedAlready(c),
    ),
    (c) => {
      if (c.kind === 'kv') return attempt(c, () => writeBucket(conn, c, declared.kv[c.name], mark))
      const {consumers: _consumers, ...spec} = declared.streams[c.name]
      const config = mark(c, specToServer(STREAM_FIELDS, spec, declared.site) as Partial<StreamConfig>)
      return attempt(c, async () => {
        if (c.action !== 'update') return jsm.streams.add({...config, name: c.name})
        if (config.metadata) config.metadata = await keepOwnMarks(config.metadata, jsm.streams.info(c.name))
        return jsm.streams.update(c.name, config)
      })
    },
  )

  await run(
    of('consumer', 'create', 'recreate', 'update').filter((c) => !failedAlready(c)),
    async (c) => {
      const stream = c.stream!
      if (brokenStreams.has(stream)) {
        result.not_attempted.push({...object(c), reason: `stream ${stream} failed`})
        return
      }
      const spec = declared.streams[stream].consumers![c.name]
      await attempt(c, () => writeConsumer(jsm, c, spec, declared.site, mark))
    },
  )

  return result
}

/**
 * The ownership mark a write carries: what dvctl creates is marked for the layout (when it has a name);
 * an update keeps the object's own mark, and touches it only when the update sets the field the mark
 * lives in (a declared description on 2.9, declared metadata on 2.10+), since the server keeps the rest.
 */
function markFor<T extends Markable>(change: LayoutChange, config: T, layout: string | undefined, version: string): T {
  if (change.action === 'create' || change.action === 'recreate')
    return layout ? withMark(config, layout, version) : config
  if (!change.owner) return config
  const carrier = supportsMetadata(version) ? config.metadata : config.description
  return carrier === undefined ? config : withMark(config, change.owner, version)
}

type Jsm = Awaited<ReturnType<SiteConnection['jsm']>>

/**
 * A consumer update sends only what the layout sets, merged by the client over the live config, so an
 * operator's pause survives it; the server ignores pause_until in an update, so a declared one that
 * differs goes through the pause API. A consumer created again keeps the pause in force it had.
 */
async function writeConsumer(
  jsm: Jsm,
  change: LayoutChange,
  spec: ConsumerSpec,
  site: string,
  mark: <T extends Markable>(change: LayoutChange, config: T) => T,
): Promise<void> {
  const stream = change.stream!
  const config = mark(change, specToServer(CONSUMER_FIELDS, spec, site) as Partial<ConsumerConfig>)
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
async function writeBucket(
  conn: SiteConnection,
  change: LayoutChange,
  spec: KvSpec,
  mark: <T extends Markable>(change: LayoutChange, config: T) => T,
): Promise<void> {
  if (change.action === 'update') {
    const jsm = await conn.jsm()
    const stream = KV_STREAM_PREFIX + change.name
    const config = mark(change, specToServer(KV_FIELDS, spec, '') as Partial<StreamConfig>)
    if (config.metadata) config.metadata = await keepOwnMarks(config.metadata, jsm.streams.info(stream))
    await jsm.streams.update(stream, config)
    return
  }
  const {Kvm} = await import('@nats-io/kv')
  const {description, metadata} = mark(change, {
    ...(spec.description ? {description: spec.description} : {}),
    ...(spec.metadata ? {metadata: spec.metadata} : {}),
  } as Markable)
  await new Kvm(await conn.js()).create(change.name, {
    ...(description ? {description} : {}),
    ...(metadata ? {metadata} : {}),
    ...(spec.history ? {history: spec.history} : {}),
    ...(spec.ttl ? {ttl: parseDuration(spec.ttl)} : {}),
    ...(spec.max_bytes !== undefined ? {max_bytes: spec.max_bytes} : {}),
    ...(spec.max_value_size !== undefined ? {maxValueSize: spec.max_value_size} : {}),
    ...(spec.storage ? {storage: spec.storage} : {}),
    ...(spec.replicas ? {replicas: spec.replicas} : {}),
    ...(spec.compression ? {compression: spec.compression === 's2'} : {}),
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

/** The built-in layout made for the site's server version (dataverket.ts); a layout file as it is. */
export function forServer(layout: Layout, serverVersion: string): Layout {
  const options = builtInOptions(layout)
  return options ? dataverketLayout({...options, serverVersion}) : layout
}

/** Plans a layout (the built-in `dataverket` one by default) against a site. */
export async function planSite(
  conn: SiteConnection,
  layout: Layout = dataverketLayout(),
  options: {prune?: boolean} = {},
): Promise<{declared: SiteLayout; plan: LayoutPlan}> {
  const [site, live] = await Promise.all([conn.identity().then(layoutSiteKey), readLiveLayout(conn)])
  const declared = layoutForSite(forServer(layout, live.serverVersion), site)
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
  if (result.failed.length || result.not_attempted.length) {
    const first = result.failed[0] ?? {...result.not_attempted[0], error: result.not_attempted[0].reason}
    throw new UserError(`Layout not applied on ${declared.site}: ${first.kind} ${first.name}: ${first.error}`, {
      code: 'layout-apply-failed',
      exitCode: ExitCode.partial,
      hint: 'Run dvctl layout plan to see what differs.',
    })
  }
  return result
}
