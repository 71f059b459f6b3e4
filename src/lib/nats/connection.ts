import {readFile} from 'node:fs/promises'

import type {ConnectionOptions, NatsConnection} from '@nats-io/transport-node'
import type {JetStreamClient, JetStreamManager} from '@nats-io/jetstream'

import type {SiteTarget} from '../config/site.js'
import {redactUrls, splitUrlCredentials, type UrlCredentials} from '../config/url.js'
import {UserError} from '../errors.js'
import {ExitCode} from '../exit-codes.js'
import {closeAbandonedSockets, dialing} from './dial-guard.js'
import {connectionError, DeadlineError} from './errors.js'
import {resolveIdentity, type SiteIdentity} from './site-identity.js'

/** One open connection to one site, with its JetStream handles created on first use. */
export interface SiteConnection {
  site: SiteTarget
  /** The URL that was dialled first, credentials redacted; shown in messages and results. */
  url: string
  nc: NatsConnection
  /** `--timeout`: the bound on dialling, on each request and on a read waiting for the server. */
  timeoutMs: number
  jsm(): Promise<JetStreamManager>
  js(): Promise<JetStreamClient>
  /**
   * The site's identity (name, datacenter_id, JetStream domain, server version, API level): resolved on
   * first use from the server's INFO and one account-info request, and kept once JetStream answered.
   */
  identity(): Promise<SiteIdentity>
  /** A read found the server not answering: close without draining (there is nothing to drain to). */
  abandon(): void
  /** The link to the server is down (the client is reconnecting) or closed. */
  linkDown(): boolean
  /** How many times the link came back after being down. */
  reconnects(): number
  close(): Promise<void>
}

export interface ConnectOptions {
  /** Bound on dialling and on each JetStream API request, in ms (`--timeout`, default 5s). */
  timeoutMs: number
  /** Connection name seen by the server (`nats server report connections`). */
  name?: string
}

async function readSecret(site: SiteTarget, path: string, what: string): Promise<string> {
  try {
    return (await readFile(path, 'utf8')).trim()
  } catch (error) {
    throw new UserError(
      `Site ${site.name}: cannot read ${what} file ${path}: ${(error as NodeJS.ErrnoException).code ?? 'unreadable'}`,
      {
        code: 'secret-file-unreadable',
        exitCode: ExitCode.usage,
        hint: `Check the ${what} path in the site's settings (dvctl site show ${site.name}).`,
      },
    )
  }
}

/**
 * The client parses a creds or seed file only when the server asks it to sign, and then reports an unparseable
 * one as a connection failure. Signing once here names the file instead.
 */
function checkedAuthenticator<A extends (nonce?: string) => unknown>(
  site: SiteTarget,
  auth: A,
  path: string,
  what: string,
): A {
  try {
    auth('dvctl-check')
  } catch {
    throw new UserError(`Site ${site.name}: ${what} file ${path} is not a valid NATS ${what} file`, {
      code: 'secret-file-invalid',
      exitCode: ExitCode.usage,
      hint:
        what === 'credentials'
          ? 'A creds file holds a user JWT block and an NKEY seed block (nsc generate creds, or the account operator).'
          : 'An nkey seed file holds one user seed starting with SU (nk -gen user).',
    })
  }
  return auth
}

/** Builds client options from a site; secrets are read from their files here and nowhere else. */
export async function connectionOptions(site: SiteTarget, options: ConnectOptions): Promise<ConnectionOptions> {
  const {credsAuthenticator, nkeyAuthenticator} = await import('@nats-io/transport-node')
  const {servers, credentials} = dialServers(site)
  const opts: ConnectionOptions = {
    servers,
    name: options.name ?? 'dvctl',
    timeout: options.timeoutMs,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 500,
    // A stuck server must not hang a command: ping often enough to notice within a few seconds.
    pingInterval: 10_000,
    // No stack captured up front for every request (two Error objects each: a tenth of a bulk replay's CPU);
    // failures are still typed and translated (errors.ts), and dvctl never shows a client stack.
    noAsyncTraces: true,
  }
  if (site.creds) {
    const creds = credsAuthenticator(new TextEncoder().encode(await readSecret(site, site.creds, 'credentials')))
    opts.authenticator = checkedAuthenticator(site, creds, site.creds, 'credentials')
  } else if (site.nkey) {
    const nkey = nkeyAuthenticator(new TextEncoder().encode(await readSecret(site, site.nkey, 'nkey seed')))
    opts.authenticator = checkedAuthenticator(site, nkey, site.nkey, 'nkey seed')
  } else if (site.token_file) {
    opts.token = await readSecret(site, site.token_file, 'token')
  }
  if (site.user) {
    opts.user = site.user
    if (site.password_file) opts.pass = await readSecret(site, site.password_file, 'password')
  }
  if (credentials) {
    // A URL's user:password or token replaces the site's user and token settings, as in nats.go.
    delete opts.user
    delete opts.pass
    delete opts.token
    Object.assign(opts, credentials)
  }
  if (site.tls) {
    opts.tls = {
      ...(site.tls.ca ? {caFile: site.tls.ca} : {}),
      ...(site.tls.cert ? {certFile: site.tls.cert} : {}),
      ...(site.tls.key ? {keyFile: site.tls.key} : {}),
      // Verification stays on unless the site explicitly says otherwise.
      ...(site.tls.insecure === true ? {rejectUnauthorized: false} : {}),
    } as ConnectionOptions['tls']
  }
  return opts
}

/**
 * The servers to dial, without userinfo (the client keeps and may print them), and the credentials
 * the URLs carried. One site logs in one way: servers carrying different credentials are refused.
 */
function dialServers(site: SiteTarget): {servers: string[]; credentials?: UrlCredentials} {
  const split = site.servers.map((url) => splitUrlCredentials(url))
  const withCredentials = split.filter((s) => s.credentials)
  const credentials = withCredentials[0]?.credentials
  if (withCredentials.some((s) => JSON.stringify(s.credentials) !== JSON.stringify(credentials))) {
    throw new UserError(`Site ${site.name}: its server URLs carry different credentials`, {
      code: 'url-credentials-differ',
      exitCode: ExitCode.usage,
      hint: `Give the user:password or token once for the site, or use a password_file, token_file or creds file.`,
    })
  }
  return {servers: split.map((s) => s.server), ...(credentials ? {credentials} : {})}
}

export async function connectSite(site: SiteTarget, options: ConnectOptions): Promise<SiteConnection> {
  const url = redactUrls(site.servers[0] ?? '(no server)')
  const opts = await connectionOptions(site, options)
  const {connect} = await import('@nats-io/transport-node')
  let nc: NatsConnection
  const dial = dialing()
  try {
    nc = await withDeadline(
      dial.run(() => connect(opts)),
      options.timeoutMs + 250,
    )
  } catch (error) {
    // The client leaves the socket of a dial that timed out before the server's INFO open (dial-guard.ts).
    closeAbandonedSockets(dial)
    throw connectionError(site, url, error, options.timeoutMs)
  }
  let jsm: Promise<JetStreamManager> | undefined
  let js: Promise<JetStreamClient> | undefined
  let identity: Promise<SiteIdentity> | undefined
  const link = watchLink(nc)
  const conn: SiteConnection = {
    site,
    url,
    nc,
    timeoutMs: options.timeoutMs,
    identity() {
      if (identity) return identity
      const pending = resolveIdentity(
        site,
        nc.info,
        () => conn.jsm(),
        (error) => connectionError(site, url, error, options.timeoutMs),
      )
      identity = pending
      // Kept only once JetStream answered: a cluster still electing its leader answers the next ask.
      void pending.then(
        (id) => {
          if (id.jetstreamError && identity === pending) identity = undefined
        },
        () => {
          if (identity === pending) identity = undefined
        },
      )
      return pending
    },
    jsm() {
      if (jsm) return jsm
      const pending = (async () => {
        const {jetstreamManager} = await import('@nats-io/jetstream')
        try {
          return await jetstreamManager(nc, {
            timeout: options.timeoutMs,
            ...(site.js_domain ? {domain: site.js_domain} : {}),
          })
        } catch (error) {
          throw connectionError(site, url, error, options.timeoutMs)
        }
      })()
      // A failure is not kept: a cluster still electing its leader answers the next ask (sandbox up retries).
      pending.catch(() => {
        if (jsm === pending) jsm = undefined
      })
      jsm = pending
      return pending
    },
    js() {
      js ??= (async () => {
        const {jetstream} = await import('@nats-io/jetstream')
        return jetstream(nc, {timeout: options.timeoutMs, ...(site.js_domain ? {domain: site.js_domain} : {})})
      })()
      return js
    },
    abandon() {
      link.abandoned = true
    },
    linkDown() {
      return link.down || nc.isClosed()
    },
    reconnects() {
      return link.reconnects
    },
    async close() {
      if (nc.isClosed()) return
      // A lost server has nothing to drain to: waiting for it would only delay the exit.
      if (link.down || link.abandoned) return nc.close()
      // Drain lets in-flight acks and publishes finish; a dead server must not hold the command open.
      await withDeadline(nc.drain(), 2000).catch(() => nc.close())
    },
  }
  return conn
}

/** Whether the connection is currently down (between a disconnect and the reconnect), and how often it came back. */
function watchLink(nc: NatsConnection): {down: boolean; abandoned: boolean; reconnects: number} {
  const link = {down: false, abandoned: false, reconnects: 0}
  void (async () => {
    // Ends when the connection closes.
    for await (const s of nc.status()) {
      if (s.type === 'disconnect') link.down = true
      else if (s.type === 'reconnect') {
        link.down = false
        link.reconnects++
      }
    }
  })().catch(() => {})
  return link
}

/** Rejects with a timeout when `promise` has not settled within `ms`. */
export async function withDeadline<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new DeadlineError(ms)), ms)
      }),
    ])
  } finally {
    clearTimeout(timer)
  }
}
