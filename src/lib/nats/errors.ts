import type {SiteTarget} from '../config/site.js'
import {UserError} from '../errors.js'
import {ExitCode} from '../exit-codes.js'

export type ConnectionCause = 'refused' | 'timeout' | 'auth' | 'no-jetstream' | 'tls' | 'unreachable'

const hints: Record<ConnectionCause, string> = {
  refused:
    'Is nats-server running there? Check the URL (--server, --site, NATS_URL) or start a sandbox: dvctl sandbox up.',
  timeout: 'The server did not answer in time. Check the network path or raise --timeout.',
  auth: "Check the site's credentials (the URL's user:password or token, --creds, NATS_CREDS, or the site's creds/nkey/token_file/user settings).",
  'no-jetstream':
    "Start the server with JetStream (nats-server -js) or set the site's js_domain to the right JetStream domain.",
  tls: "Check the site's tls settings (ca, cert, key) and the server's certificate.",
  unreachable: 'Check the URL and that the host is reachable.',
}

/**
 * A read that got nothing from its server for `--timeout` (server killed, network gone, a consumer the
 * client keeps recreating): the site is failed, exit 4 (issue 13: reads without --follow are bounded).
 */
export class StalledError extends UserError {
  constructor(
    readonly site: SiteTarget,
    readonly url: string,
    /** Without the site: `no answer for 2000ms while reading DV_EVT`. */
    readonly detail: string,
  ) {
    super(`Site ${site.name} (${url}): ${detail}`, {
      code: 'connection-timeout',
      exitCode: ExitCode.unavailable,
      hint: hints.timeout,
    })
    this.name = 'StalledError'
  }
}

/** Classifies an error from the NATS client. Matches on names and codes, since the client's classes vary by module. */
export function classifyConnectionError(error: unknown): {cause: ConnectionCause; detail: string} {
  if (error instanceof StalledError) return {cause: 'timeout', detail: error.detail}
  const err = error as {name?: string; message?: string; code?: string; cause?: {code?: string; message?: string}}
  const text = `${err?.name ?? ''} ${err?.message ?? ''} ${err?.code ?? ''} ${err?.cause?.code ?? ''} ${err?.cause?.message ?? ''}`
  if (/ECONNREFUSED|connection refused/i.test(text)) return {cause: 'refused', detail: 'connection refused'}
  if (/authorization|authentication|auth/i.test(text)) return {cause: 'auth', detail: 'authentication failed'}
  if (/JetStreamNotEnabled|jetstream not enabled|503|no responders/i.test(text))
    return {cause: 'no-jetstream', detail: 'JetStream is not available'}
  if (/TLS|certificate|CERT_|SSL/i.test(text))
    return {cause: 'tls', detail: `TLS failed (${err?.message ?? 'handshake'})`}
  if (/timeout|ETIMEDOUT/i.test(text)) return {cause: 'timeout', detail: 'timed out'}
  if (/ENOTFOUND|EHOSTUNREACH|ENETUNREACH|EAI_AGAIN/i.test(text))
    return {cause: 'unreachable', detail: 'host unreachable'}
  return {cause: 'unreachable', detail: err?.message ?? String(error)}
}

/** One clear line: which site, which URL (UserError redacts its credentials), why; plus a hint. Exit 4. */
export function connectionError(site: SiteTarget, url: string, error: unknown, timeoutMs?: number): UserError {
  if (error instanceof UserError) return error
  const {cause, detail} = classifyConnectionError(error)
  const after = cause === 'timeout' && timeoutMs ? ` after ${timeoutMs}ms` : ''
  return new UserError(`Site ${site.name} (${url}): ${detail}${after}`, {
    code: cause === 'no-jetstream' ? 'jetstream-unavailable' : `connection-${cause}`,
    exitCode: ExitCode.unavailable,
    hint: hints[cause],
    cause: error,
  })
}

const LOST = new Set(['TimeoutError', 'ClosedConnectionError', 'ConnectionError', 'DrainingConnectionError'])

/**
 * The site stopped answering (a request timed out, the connection closed), as opposed to the server
 * refusing one request: work that would go to the same site next is not worth attempting. Recognised by
 * the client's error class names, since its classes are not exported from one module.
 */
export function isSiteLost(error: unknown, nc?: {isClosed(): boolean}): boolean {
  if (nc?.isClosed()) return true
  const err = error as {name?: string; code?: string; cause?: {name?: string}}
  return LOST.has(err?.name ?? '') || LOST.has(err?.cause?.name ?? '') || err?.code === 'TIMEOUT'
}
