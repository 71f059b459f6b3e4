import type {SiteTarget} from '../config/site.js'
import {redactUrls} from '../config/url.js'
import type {SiteConnection} from '../nats/connection.js'
import type {DemoResult, DemoSite} from './run.js'

export interface ChooseSitesOptions {
  /** The sites chosen by the global flags, environment and config (BaseCommand.siteTargets). */
  targets: SiteTarget[]
  /** The user named the sites (`--server`, `--site`, `DV_SITE`, `NATS_URL`); otherwise the demo runs in a sandbox. */
  explicit: boolean
  /**
   * Agrees to run on sites where real workers may share the service consumers, or throws (refused, exit 6;
   * cancelled, exit 3). Called only for named sites that are not the running sandbox's.
   */
  confirmShared: (sites: SiteConnection[]) => Promise<void>
  /** `--server URL`, repeated in the suggested commands. */
  server?: string
  /** `--sandbox`: use the local sandbox (starting it when needed) whatever else is reachable. */
  sandbox: boolean
  timeoutMs: number
  env?: NodeJS.ProcessEnv
  onStep?: (message: string) => void
}

export interface ChosenSites {
  sites: DemoSite[]
  sandbox: DemoResult['sandbox']
}

/**
 * Where the demo runs (issue 15): a local sandbox unless the user named sites (`--server`, `--site`,
 * `DV_SITE`, `NATS_URL`). Its simulated workers take commands from the layout's service consumers, which real
 * workers may share, so a named site that is not a running sandbox's is used only once `confirmShared`
 * agrees (the command asks, or `--yes`). An unreachable site the user named is an error (exit 4), never
 * replaced by a sandbox.
 */
export async function chooseDemoSites(options: ChooseSitesOptions): Promise<ChosenSites> {
  if (options.sandbox || !options.explicit) return startSandbox(options)
  const {attemptSites} = await import('../nats/fanout.js')
  const attempts = await attemptSites(options.targets, {timeoutMs: options.timeoutMs})
  const failed = attempts.find((a) => a.error)
  const conns = attempts.flatMap((a) => (a.conn ? [a.conn] : []))
  if (failed) {
    await Promise.allSettled(conns.map((c) => c.close()))
    throw failed.error
  }
  const shared = await notSandboxSites(conns, options.env)
  if (shared.length) {
    try {
      await options.confirmShared(shared)
    } catch (error) {
      await Promise.allSettled(conns.map((c) => c.close()))
      throw error
    }
  }
  return {sites: conns.map((conn) => ({conn, selector: selectorFor(conn.site, options.server)})), sandbox: null}
}

/** The connections that are not to a site of the running local sandbox: real workers may be there. */
async function notSandboxSites(conns: SiteConnection[], env?: NodeJS.ProcessEnv): Promise<SiteConnection[]> {
  const {sandboxStatus} = await import('../sandbox/sandbox.js')
  const status = await sandboxStatus({env}).catch(() => undefined)
  const sandboxUrls = new Set((status?.sites ?? []).filter((s) => s.running).map((s) => s.url))
  return conns.filter((c) => !c.site.servers.some((url) => sandboxUrls.has(url)))
}

/**
 * `--site NAME` for a configured site, `--server URL` when given so, nothing for the default URL. The
 * commands are printed, so a URL's credentials are redacted (NATS_URL or a site keeps them out of argv).
 */
export function selectorFor(site: SiteTarget, server?: string): string[] {
  if (server) return ['--server', redactUrls(server)]
  return site.byUrl ? [] : ['--site', site.name]
}

async function startSandbox(options: ChooseSitesOptions): Promise<ChosenSites> {
  const step = options.onStep ?? (() => {})
  const {sandboxUp} = await import('../sandbox/sandbox.js')
  step('starting the local sandbox (dvctl sandbox up --register)')
  const sandbox = await sandboxUp({register: true, timeoutMs: options.timeoutMs, env: options.env})
  for (const w of sandbox.warnings ?? []) step(`sandbox: ${w}`)
  step(
    `sandbox sites ${sandbox.sites.map((s) => `${s.name} (${s.url})`).join(', ')}, registered in ${sandbox.registered_in}`,
  )
  const conns = await connectAll(
    sandbox.sites.map((s) => ({name: s.name, servers: [s.url], js_domain: s.js_domain})),
    options.timeoutMs,
  )
  return {
    sites: conns.map((conn) => ({conn, selector: ['--site', conn.site.name]})),
    sandbox: {dir: sandbox.dir, config: sandbox.config, registered_in: sandbox.registered_in},
  }
}

async function connectAll(targets: SiteTarget[], timeoutMs: number): Promise<SiteConnection[]> {
  const {connectSites} = await import('../nats/fanout.js')
  const fan = await connectSites(targets, {timeoutMs})
  if (fan.failures.length) {
    await Promise.allSettled(fan.connections.map((c) => c.close()))
    throw fan.failures[0]
  }
  return fan.connections
}
