/**
 * The one place where what the NATS client throws is recognised and translated (docs/architecture.md, "Errors translated once": errors are
 * translated at the edge, by type). Recognition is by class (`instanceof` the classes the client exports),
 * by JetStream API error code (`err_code`) and status, and by the `code` property Node puts on socket and
 * TLS errors (ECONNREFUSED, ERR_TLS_CERT_ALTNAME_INVALID, ...); never by the text of a message. What comes
 * out is our own wording, a stable code and an exit code (docs/architecture.md, "JSON results"); a client's message never
 * reaches a result. The only server text kept is a JetStream API error's description when the server
 * refused a request (it names what was wrong, e.g. overlapping subjects), sanitised and bounded.
 */
import {errors as coreErrors} from '@nats-io/transport-node'
import * as JetStreamInternal from '@nats-io/jetstream/internal'

import type {SiteTarget} from '../config/site.js'
import {formatDuration} from '../duration.js'
import {UserError} from '../errors.js'
import {ExitCode, type ExitCodeValue} from '../exit-codes.js'
import {safeText, sanitize} from '../render/text.js'

/** What went wrong, in our terms. */
export type NatsFailureKind =
  /** Nothing listens at the address (ECONNREFUSED). */
  | 'refused'
  /** The host cannot be resolved or reached (ENOTFOUND, EHOSTUNREACH, ...). */
  | 'unreachable'
  /** The TLS handshake or certificate check failed, or TLS is required on one side only. */
  | 'tls'
  /** The server refused the credentials (or they expired). */
  | 'auth'
  /** The server refused a publish or subscribe on a subject the user may not use. */
  | 'permission'
  /** No answer in time (a request, the dial, a read that stalled). */
  | 'timeout'
  /** The link to the server broke or the connection is draining; the client may reconnect. */
  | 'disconnected'
  /** The connection was closed. */
  | 'closed'
  /** Nobody answered the request's subject (no JetStream there right now, or no service). */
  | 'no-responders'
  /** JetStream is not enabled for the account or on the server. */
  | 'no-jetstream'
  /** JetStream is temporarily unavailable: a leader election, no peers for placement, an offline asset. */
  | 'unavailable'
  | 'stream-not-found'
  | 'consumer-not-found'
  | 'message-not-found'
  /** JetStream refused the request (any other API error). */
  | 'rejected'
  /** Not an error the client produces. */
  | 'unknown'

export interface NatsFailure {
  kind: NatsFailureKind
  /** Our wording, without the site: `connection refused`, `timed out`, `stream not found`. */
  detail: string
  /** The JetStream API error code (`err_code`) when the server answered with one. */
  apiCode?: number
}

/** JetStream API error codes (nats-server errors.json) that mean "try again shortly". */
const API_TEMPORARY = new Set([
  10_005, // no suitable peers for placement
  10_008, // JetStream system temporarily unavailable
  10_009, // JetStream cluster can not handle request (not the leader)
  10_118, // stream is offline
  10_119, // consumer is offline
])
const API_NOT_ENABLED = 10_039 // JetStream not enabled for account
const API_NOT_ENABLED_SERVER = 10_076 // JetStream not enabled (on this server)

const SOCKET_REFUSED = new Set(['ECONNREFUSED'])
const SOCKET_UNREACHABLE = new Set(['ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN'])
const SOCKET_BROKEN = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED'])
const SOCKET_TIMEOUT = new Set(['ETIMEDOUT'])
/** OpenSSL's certificate verification codes that Node passes through as `code`. */
const TLS_CODES = new Set([
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_UNTRUSTED',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'HOSTNAME_MISMATCH',
])

/**
 * The client's error classes. This module loads the NATS client: nothing on the start-up path imports it
 * statically (BaseCommand imports it when it translates an error, and an error from the client means the
 * client is loaded already), so a command that never meets NATS does not load the client.
 */
function client(): {core: typeof coreErrors; js: typeof JetStreamInternal} {
  return {core: coreErrors, js: JetStreamInternal}
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

/** Our own deadline (connection.ts withDeadline) rejects with this. */
export class DeadlineError extends Error {
  readonly code = 'TIMEOUT'
  constructor(readonly ms: number) {
    super(`no answer within ${formatDuration(ms)}`)
    this.name = 'DeadlineError'
  }
}

function socketCode(error: unknown): string | undefined {
  const code = (error as {code?: unknown} | null)?.code
  return typeof code === 'string' ? code : undefined
}

function isTlsCode(code: string): boolean {
  return TLS_CODES.has(code) || code.startsWith('ERR_TLS_') || code.startsWith('ERR_SSL_')
}

/** A JetStream API description, as a bounded single line safe for a terminal. */
function serverSays(description: string | undefined): string {
  return sanitize(safeText(description ?? '', 200))
}

/** What a failure from the NATS client (or a Node socket under it) is. Never throws. */
export function classifyNatsError(error: unknown): NatsFailure {
  if (error instanceof StalledError) return {kind: 'timeout', detail: error.detail}
  if (error instanceof DeadlineError) return {kind: 'timeout', detail: 'timed out'}
  if (!(error instanceof Error)) return {kind: 'unknown', detail: 'unexpected failure'}
  const {core, js} = client()

  if (error instanceof js.jserrors.JetStreamNotEnabled) {
    // Either the API answered "not enabled" (the cause is that API error) or nobody answered at all.
    const cause = error.cause
    if (cause instanceof core.RequestError && cause.isNoResponders())
      return {kind: 'no-responders', detail: 'JetStream is not available (no responders)'}
    return {kind: 'no-jetstream', detail: 'JetStream is not enabled', apiCode: API_NOT_ENABLED}
  }
  if (error instanceof js.jserrors.StreamNotFoundError)
    return {kind: 'stream-not-found', detail: 'stream not found', apiCode: error.code}
  if (error instanceof js.jserrors.ConsumerNotFoundError)
    return {kind: 'consumer-not-found', detail: 'consumer not found', apiCode: error.code}
  if (error instanceof js.JetStreamApiError) return classifyApiError(error)
  if (error instanceof js.JetStreamStatusError) {
    if (error.code === 404) return {kind: 'message-not-found', detail: 'message not found'}
    if (error.code === 503) return {kind: 'unavailable', detail: 'JetStream is temporarily unavailable (503)'}
    if (error.code === 408) return {kind: 'timeout', detail: 'the server timed the request out (408)'}
    return {kind: 'rejected', detail: `JetStream answered status ${error.code}`}
  }

  if (error instanceof core.TimeoutError) return {kind: 'timeout', detail: 'timed out'}
  if (error instanceof core.NoRespondersError) return {kind: 'no-responders', detail: 'no responders'}
  if (error instanceof core.RequestError) {
    // The client wraps a request's cause: no responders, a timeout, a connection that went away.
    if (error.isNoResponders()) return {kind: 'no-responders', detail: 'no responders'}
    if (error.cause instanceof Error) return classifyNatsError(error.cause)
    return {kind: 'disconnected', detail: 'the request was cut off (connection lost)'}
  }
  if (error instanceof core.AuthorizationError || error instanceof core.UserAuthenticationExpiredError) {
    // The client gives the server's "Authentication Timeout" (a login slower than the server's
    // authorization timeout) the same class as a refused login, and nothing else tells them apart but the
    // server's text, which is not matched here (docs/upstream.md); the hint covers both.
    return {kind: 'auth', detail: 'authentication failed'}
  }
  if (error instanceof core.PermissionViolationError)
    return {kind: 'permission', detail: `permission denied to ${error.operation} on ${serverSays(error.subject)}`}
  if (error instanceof core.ClosedConnectionError) return {kind: 'closed', detail: 'connection closed'}
  if (error instanceof core.DrainingConnectionError) return {kind: 'disconnected', detail: 'connection draining'}
  if (error instanceof core.ConnectionError) {
    // The transport wraps the socket's error (ECONNREFUSED) as its cause.
    if (error.cause !== undefined) {
      const under = classifyNatsError(error.cause)
      if (under.kind !== 'unknown') return under
    }
    return {kind: 'disconnected', detail: 'connection failed'}
  }
  if (error instanceof core.ProtocolError) return {kind: 'disconnected', detail: 'the server ended the connection'}

  const code = socketCode(error)
  if (code) {
    if (SOCKET_REFUSED.has(code)) return {kind: 'refused', detail: 'connection refused'}
    if (SOCKET_TIMEOUT.has(code)) return {kind: 'timeout', detail: 'timed out'}
    if (SOCKET_UNREACHABLE.has(code)) return {kind: 'unreachable', detail: `host unreachable (${code})`}
    if (SOCKET_BROKEN.has(code)) return {kind: 'disconnected', detail: `connection broken (${code})`}
    if (isTlsCode(code)) return {kind: 'tls', detail: `TLS failed (${code})`}
  }
  return {kind: 'unknown', detail: 'unexpected failure'}
}

function classifyApiError(error: JetStreamInternal.JetStreamApiError): NatsFailure {
  const apiCode = error.code
  if (apiCode === API_NOT_ENABLED || apiCode === API_NOT_ENABLED_SERVER)
    return {kind: 'no-jetstream', detail: 'JetStream is not enabled', apiCode}
  if (apiCode === client().js.JetStreamApiCodes.NoMessageFound)
    return {kind: 'message-not-found', detail: 'message not found', apiCode}
  if (API_TEMPORARY.has(apiCode) || error.status === 503)
    return {kind: 'unavailable', detail: `JetStream is temporarily unavailable (error ${apiCode})`, apiCode}
  const said = serverSays(error.apiError().description)
  return {kind: 'rejected', detail: `JetStream refused it (error ${apiCode}${said ? `: ${said}` : ''})`, apiCode}
}

// ---- questions the rest of the code asks ----

export const isStreamNotFound = (error: unknown): boolean => classifyNatsError(error).kind === 'stream-not-found'

/**
 * A compare-and-set write lost: the key (a KV `update`/`create` with a revision, a publish with
 * Nats-Expected-Last-Subject-Sequence) changed since it was read. The writer re-reads and decides again.
 */
export function isWrongLastSequence(error: unknown): boolean {
  if (!(error instanceof Error)) return false
  const {js} = client()
  return error instanceof js.JetStreamApiError && error.code === js.JetStreamApiCodes.StreamWrongLastSequence
}

/** The stream, the consumer or the message does not exist. */
export function isNotFound(error: unknown): boolean {
  const {kind} = classifyNatsError(error)
  return kind === 'stream-not-found' || kind === 'consumer-not-found' || kind === 'message-not-found'
}

/**
 * Failures a JetStream cluster produces while it elects a new leader or while the client moves to a
 * surviving server: a timeout, no responders, a 503 or a "temporarily unavailable" API error, a link that
 * broke. They pass within seconds (transient.ts retries what is safe to repeat).
 */
export function isTransient(error: unknown): boolean {
  const {kind} = classifyNatsError(error)
  return kind === 'timeout' || kind === 'no-responders' || kind === 'unavailable' || kind === 'disconnected'
}

/**
 * The site stopped answering (a request timed out, the connection closed or broke), as opposed to the
 * server refusing one request: work that would go to the same site next is not worth attempting.
 */
export function isSiteLost(error: unknown, nc?: {isClosed(): boolean}): boolean {
  if (nc?.isClosed()) return true
  const {kind} = classifyNatsError(error)
  return kind === 'timeout' || kind === 'closed' || kind === 'disconnected'
}

// ---- translation into UserErrors and result fields ----

const hints: Record<string, string> = {
  refused:
    'Is nats-server running there? Check the URL (--server, --site, NATS_URL) or start a sandbox: dvctl sandbox up.',
  timeout: 'The server did not answer in time. Check the network path or raise --timeout.',
  auth: "Check the site's credentials (the URL's user:password or token, --creds, NATS_CREDS, or the site's creds/nkey/token_file/user settings). A server also ends a login it did not get within its authorization timeout: on a heavily loaded machine, run the command again.",
  permission: "The site's user may not use that subject; check its permissions on the server.",
  'no-jetstream':
    "Start the server with JetStream (nats-server -js) or set the site's js_domain to the right JetStream domain.",
  tls: "Check the site's tls settings (ca, cert, key) and the server's certificate.",
  unreachable: 'Check the URL and that the host is reachable.',
  lost: 'The connection to the server was lost; check the server and run the command again.',
  unavailable:
    'A server was lost or a JetStream leader is being elected; run the command again (dvctl doctor shows leaders and replicas).',
  'not-found': 'Check the name, or create the standard streams with dvctl layout apply.',
  rejected: 'The server refused the request; the message says why.',
}

interface Translation {
  code: string
  exitCode: ExitCodeValue
  hint: string
}

const translations: Record<NatsFailureKind, Translation> = {
  refused: {code: 'connection-refused', exitCode: ExitCode.unavailable, hint: hints.refused},
  unreachable: {code: 'connection-unreachable', exitCode: ExitCode.unavailable, hint: hints.unreachable},
  tls: {code: 'connection-tls', exitCode: ExitCode.unavailable, hint: hints.tls},
  auth: {code: 'connection-auth', exitCode: ExitCode.unavailable, hint: hints.auth},
  permission: {code: 'permission-denied', exitCode: ExitCode.unavailable, hint: hints.permission},
  timeout: {code: 'connection-timeout', exitCode: ExitCode.unavailable, hint: hints.timeout},
  disconnected: {code: 'connection-lost', exitCode: ExitCode.unavailable, hint: hints.lost},
  closed: {code: 'connection-lost', exitCode: ExitCode.unavailable, hint: hints.lost},
  'no-responders': {code: 'jetstream-unavailable', exitCode: ExitCode.unavailable, hint: hints['no-jetstream']},
  'no-jetstream': {code: 'jetstream-unavailable', exitCode: ExitCode.unavailable, hint: hints['no-jetstream']},
  unavailable: {code: 'site-unavailable', exitCode: ExitCode.unavailable, hint: hints.unavailable},
  'stream-not-found': {code: 'stream-not-found', exitCode: ExitCode.notFound, hint: hints['not-found']},
  'consumer-not-found': {code: 'consumer-not-found', exitCode: ExitCode.notFound, hint: hints['not-found']},
  'message-not-found': {code: 'message-not-found', exitCode: ExitCode.notFound, hint: hints['not-found']},
  rejected: {code: 'jetstream-refused', exitCode: ExitCode.usage, hint: hints.rejected},
  // Whatever failed while talking to a site that the client does not describe: the site, as far as we can tell.
  unknown: {code: 'connection-unreachable', exitCode: ExitCode.unavailable, hint: hints.unreachable},
}

/** The hint of a translated client error by its code (`jetstream-unavailable`), for a failure kept as result fields. */
export function natsHint(code: string): string | undefined {
  return Object.values(translations).find((t) => t.code === code)?.hint
}

/** A failure as two result fields: our wording and a stable code (per-item `error` and `code` in JSON results). */
export function describeNatsError(error: unknown): {error: string; code: string} {
  if (error instanceof StalledError) return {error: error.detail, code: error.code}
  if (error instanceof UserError) {
    // A translated client error (connectionError) is described by what happened, without its site prefix.
    const under = error.cause instanceof Error && !(error.cause instanceof UserError) ? error.cause : undefined
    return {error: under ? classifyNatsError(under).detail : error.message, code: error.code}
  }
  const failure = classifyNatsError(error)
  return {error: failure.detail, code: translations[failure.kind].code}
}

/**
 * One clear line for a failure talking to a site: which site, which URL (UserError redacts its
 * credentials), what happened in our words; with a code, an exit code (4 for the site or JetStream being
 * unavailable, 5 for something not found) and a hint. A UserError passes through as it is.
 */
export function connectionError(site: SiteTarget, url: string, error: unknown, timeoutMs?: number): UserError {
  if (error instanceof UserError) return error
  const failure = classifyNatsError(error)
  const t = translations[failure.kind]
  const after =
    failure.kind === 'timeout' && timeoutMs && !(error instanceof StalledError)
      ? ` after ${formatDuration(timeoutMs)}`
      : ''
  return new UserError(`Site ${site.name} (${url}): ${failure.detail}${after}`, {
    code: t.code,
    exitCode: t.exitCode,
    hint: t.hint,
    cause: error,
  })
}

/**
 * An error that escaped a command, when it came from the NATS client: translated without a site (the
 * command did not say which). Undefined for anything else (a bug, exit 1).
 */
export function natsUserError(error: unknown): UserError | undefined {
  if (error instanceof UserError) return error
  const failure = classifyNatsError(error)
  if (failure.kind === 'unknown') return undefined
  const t = translations[failure.kind]
  const message =
    failure.kind === 'timeout' || failure.kind === 'unavailable' || failure.kind === 'no-responders'
      ? `The site did not answer: ${failure.detail}`
      : `NATS: ${failure.detail}`
  return new UserError(message, {code: t.code, exitCode: t.exitCode, hint: t.hint, cause: error})
}
