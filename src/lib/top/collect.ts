import {isTerminalTaskState} from '../contract/services.js'
import type {SiteAttempt} from '../nats/fanout.js'
import type {SiteConnection} from '../nats/connection.js'
import {describeNatsError} from '../nats/errors.js'
import {TOP_DEAD_LETTERS, type TopSiteSnapshot} from '../render/top.js'

/**
 * Where `dvctl top` gets each refresh: one snapshot per selected site, read concurrently, a site that fails
 * carrying its error (never a failed refresh). The facts come from the services that own them: `doctor`'s
 * site health (consumers, sources), the dead-letter reader (`dlq list`) and the task board (`task list`).
 */
export interface TopCollector {
  refresh(): Promise<TopSiteSnapshot[]>
}

export interface TopCollectOptions {
  /** A started task without an event for longer than this is stalled. */
  stalledTaskMs: number
  /** How far back the task history is read. */
  taskHistoryMs?: number
}

const TASK_HISTORY_MS = 24 * 3_600_000

export function collectTopSnapshots(attempts: readonly SiteAttempt[], options: TopCollectOptions): TopCollector {
  return {
    refresh: () =>
      Promise.all(
        attempts.map((a) =>
          a.conn ? siteSnapshot(a.conn, options) : Promise.resolve(emptySnapshot(a.target.name, a.error.message)),
        ),
      ),
  }
}

function emptySnapshot(site: string, error?: string): TopSiteSnapshot {
  return {
    site,
    ...(error === undefined ? {} : {error}),
    dead_letters: {pending: 0, oldest_age_ms: null, recent: []},
    consumers: [],
    tasks: {by_state: {}, stalled: []},
    sources: [],
  }
}

async function siteSnapshot(conn: SiteConnection, options: TopCollectOptions): Promise<TopSiteSnapshot> {
  const now = Date.now()
  const snapshot = emptySnapshot(conn.site.name)
  const [{checkSiteHealth}, {readDeadLetters}, {listTasks}] = await Promise.all([
    import('../doctor/check.js'),
    import('../dlq/read.js'),
    import('../tasks/list.js'),
  ])
  const errors: string[] = []
  const failed = (error: unknown) => errors.push(describeNatsError(error).error)
  await Promise.all([
    checkSiteHealth(conn).then((health) => {
      snapshot.consumers = health.consumers
      snapshot.sources = health.sources
      if (health.error) errors.push(health.error)
    }, failed),
    readDeadLetters(conn, {qualified: false, status: 'pending'}).then((letters) => {
      // Oldest first from the reader; top lists the newest first.
      const newest = [...letters].reverse()
      const oldest = letters[0]
      snapshot.dead_letters = {
        pending: letters.length,
        oldest_age_ms: oldest ? Math.max(0, now - Date.parse(oldest.dead_lettered_at)) : null,
        recent: newest.slice(0, TOP_DEAD_LETTERS).map((d) => ({
          ref: d.ref,
          consumer: d.consumer,
          reason: d.reason,
          dead_lettered_at: d.dead_lettered_at,
          type: d.type,
          subject: d.subject,
          correlation_id: d.correlation_id,
        })),
      }
    }, failed),
    listTasks([conn], {filter: {}, sinceMs: options.taskHistoryMs ?? TASK_HISTORY_MS}).then(({tasks, siteErrors}) => {
      const byState: Record<string, number> = {}
      for (const t of tasks) byState[t.state] = (byState[t.state] ?? 0) + 1
      const stalled = tasks
        .filter((t) => !isTerminalTaskState(t.state) && now - Date.parse(t.updated_at) > options.stalledTaskMs)
        .sort((a, b) => a.updated_at.localeCompare(b.updated_at))
      snapshot.tasks = {
        by_state: byState,
        stalled: stalled.map((t) => ({
          task_id: t.task_id,
          service: t.service ?? '-',
          state: t.state,
          last_event_at: t.updated_at,
          correlation_id: t.correlation_id,
        })),
      }
      for (const error of siteErrors.values()) errors.push(error)
    }, failed),
  ])
  if (errors.length) snapshot.error = errors.join('; ')
  return snapshot
}
