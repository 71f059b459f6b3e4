import type {SiteTarget} from '../config/site.js'
import {redactUrls} from '../config/url.js'
import type {SiteConnection} from '../nats/connection.js'
import type {DemoResult, DemoSite} from './run.js'

export interface ChooseSitesOptions {
  /** The sites chosen by the global flags, environment and config (BaseCommand.siteTargets). */
  targets: SiteTarget[]
  /** The user named the sites (`--server`, `--site`, `DV_SITE`, `NATS_URL`): never fall back to a sandbox. */
  explicit: boolean
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
 * Where the demo runs (issue 8): the sites the user gave; else the default site when it is reachable (the
 * machine's own NATS counts), widened to every sandbox site when the default is a running sandbox's hub;
 * else a local sandbox, started (or restarted) and registered in the user's config so that the suggested
 * commands find it by name. An unreachable site the user named is an error (exit 4), never replaced.
 */
export async function chooseDemoSites(options: ChooseSitesOptions): Promise<ChosenSites> {
  const step = options.onStep ?? (() => {})
  const {attemptSites} = await import('../nats/fanout.js')
  if (!options.sandbox) {
    const attempts = await attemptSites(options.targets, {timeoutMs: options.timeoutMs})
    const failed = attempts.find((a) => a.error)
    if (!failed) {
      const conns = attempts.map((a) => a.conn!)
      if (!options.explicit && conns.length === 1) {
        const widened = await widenToSandbox(conns[0], options)
        if (widened) return widened
      }
      return {sites: conns.map((conn) => ({conn, selector: selectorFor(conn.site, options.server)})), sandbox: null}
    }
    await Promise.allSettled(attempts.map((a) => a.conn?.close()))
    if (options.explicit) throw failed.error
    step(`${failed.error!.message}; starting a local sandbox instead`)
  }
  return startSandbox(options)
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

/** The default site is the hub of a running sandbox: run on all of its sites, so the cross-site flow is shown. */
async function widenToSandbox(conn: SiteConnection, options: ChooseSitesOptions): Promise<ChosenSites | undefined> {
  const {sandboxStatus} = await import('../sandbox/sandbox.js')
  const status = await sandboxStatus({env: options.env}).catch(() => undefined)
  if (!status || status.sites.length < 2 || !status.sites.every((s) => s.running)) return undefined
  if (!status.sites.some((s) => conn.site.servers.includes(s.url))) return undefined
  const others = status.sites.filter((s) => !conn.site.servers.includes(s.url))
  const more = await connectAll(
    others.map((s) => ({name: s.name, servers: [s.url], js_domain: s.js_domain})),
    options.timeoutMs,
  ).catch(() => undefined)
  if (!more) return undefined
  const registered = Boolean(status.registered_in)
  const selector = (c: SiteConnection) => (registered ? ['--site', c.site.name] : ['--server', c.url])
  return {
    sites: [conn, ...more].map((c) => ({
      conn: c,
      selector: c === conn ? selectorFor(c.site, options.server) : selector(c),
    })),
    sandbox: {dir: status.dir, config: status.config, registered_in: status.registered_in},
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
