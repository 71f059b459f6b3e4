import type {SiteTarget} from '../config/site.js'
import {redactUrls} from '../config/url.js'
import type {SiteConnection} from '../nats/connection.js'
import {attemptSites} from '../nats/fanout.js'
import {SiteCollector, unreachableSnapshot, type SiteSnapshot, type SnapshotOptions} from './snapshot.js'

export interface MonitorOptions extends SnapshotOptions {
  /** `--timeout`: bounds each dial, request and read. */
  timeoutMs: number
}

/** What a monitor knows of one site: its latest snapshot and how many rounds failed to read it (whole or part). */
export interface MonitoredSite {
  site: string
  snapshot: SiteSnapshot
  /** Rounds in which the site, or a part of it, could not be read: a counter (`dvctl_scrape_errors_total`). */
  scrape_errors: number
  /** Rounds collected for this site. */
  rounds: number
  /** How long the last round took for this site, in ms. */
  duration_ms: number
}

/**
 * Snapshots of several sites, round after round (`metrics serve`, `top`): each `round()` dials the sites
 * not connected yet (a site down at start is tried again every round; a connected one reconnects on its
 * own), collects every site concurrently with one `SiteCollector` each (incremental reads), and never
 * throws: a site that fails is a snapshot with `error` and one more scrape error. `close()` closes the
 * connections it opened. Rounds must not overlap.
 */
export class HealthMonitor {
  private readonly sites: Array<{
    target: SiteTarget
    conn?: SiteConnection
    collector?: SiteCollector
    state: MonitoredSite
  }>

  constructor(
    targets: SiteTarget[],
    private readonly options: MonitorOptions,
  ) {
    this.sites = targets.map((target) => ({
      target,
      state: {
        site: target.name,
        snapshot: unreachableSnapshot(target.name, redactUrls(target.servers[0] ?? ''), 'not read yet'),
        scrape_errors: 0,
        rounds: 0,
        duration_ms: 0,
      },
    }))
  }

  async round(): Promise<MonitoredSite[]> {
    await Promise.all(this.sites.map((s) => this.collectOne(s)))
    return this.latest()
  }

  latest(): MonitoredSite[] {
    return this.sites.map((s) => s.state)
  }

  async close(): Promise<void> {
    await Promise.allSettled(this.sites.map((s) => s.conn?.close()))
  }

  private async collectOne(s: (typeof this.sites)[number]): Promise<void> {
    const started = Date.now()
    let snapshot: SiteSnapshot
    if (!s.conn) {
      const [attempt] = await attemptSites([s.target], {timeoutMs: this.options.timeoutMs})
      if (attempt.conn) {
        s.conn = attempt.conn
        s.collector = new SiteCollector(attempt.conn, this.options)
      } else snapshot = unreachableSnapshot(s.target.name, attempt.url, attempt.error)
    }
    try {
      snapshot ??= await s.collector!.collect()
    } catch (error) {
      // collect() reports failures in the snapshot; anything else is still one site's error, never the round's.
      snapshot = unreachableSnapshot(s.target.name, s.conn?.url ?? '', (error as Error).message)
    }
    s.state = {
      site: s.target.name,
      snapshot,
      scrape_errors: s.state.scrape_errors + (snapshot.error || snapshot.errors.length ? 1 : 0),
      rounds: s.state.rounds + 1,
      duration_ms: Date.now() - started,
    }
  }
}
