import {z} from 'zod'

import {ProblemSchema} from '../contract/problem-schema.js'
import {formatDuration} from '../duration.js'
import {UserError} from '../errors.js'
import {ExitCode} from '../exit-codes.js'
import type {SiteConnection} from '../nats/connection.js'
import {classifyNatsError, connectionError} from '../nats/errors.js'
import type {BuiltMessage} from './envelope.js'
import {ORIGIN, ORIGIN_HEADER} from './publish.js'

/** `dvctl request --json` (docs/architecture.md, JSON results): `{subject, reply}`, the reply's JSON or its text. */
export const RequestResult = z.object({
  subject: z.string(),
  site: z.string(),
  /** The parsed reply when it is JSON, else its text. */
  reply: z.unknown(),
  reply_format: z.enum(['json', 'text']),
  /** The request envelope that was sent. */
  envelope: z.record(z.string(), z.unknown()),
  warnings: z.array(ProblemSchema),
})
export type RequestResult = z.infer<typeof RequestResult>

export interface RequestOptions {
  message: BuiltMessage
  timeoutMs: number
}

/**
 * Sends a validated `dv.rpc.*` request and waits for one reply (ADR "RPC": narrow synchronous interactions).
 * No responder is exit 5; no reply within the timeout is exit 9.
 */
export async function requestReply(conn: SiteConnection, options: RequestOptions): Promise<RequestResult> {
  const {headers} = await import('@nats-io/transport-node')
  const {message} = options
  const h = headers()
  h.set(ORIGIN_HEADER, ORIGIN)
  let replyText: string
  try {
    const reply = await conn.nc.request(message.subject, JSON.stringify(message.envelope), {
      timeout: options.timeoutMs,
      headers: h,
    })
    replyText = reply.string()
  } catch (error) {
    throw requestError(conn, message.subject, error, options.timeoutMs)
  }
  let reply: unknown = replyText
  let format: 'json' | 'text' = 'text'
  try {
    reply = JSON.parse(replyText)
    format = 'json'
  } catch {
    // Not JSON: shown as text.
  }
  return {
    subject: message.subject,
    site: conn.site.name,
    reply,
    reply_format: format,
    envelope: message.envelope,
    warnings: message.warnings,
  }
}

function requestError(conn: SiteConnection, subject: string, error: unknown, timeoutMs: number): UserError {
  const {kind} = classifyNatsError(error)
  if (kind === 'no-responders') {
    return new UserError(`No responders for ${subject} on site ${conn.site.name}: no service is listening.`, {
      code: 'no-responders',
      exitCode: ExitCode.notFound,
      hint: `Check that the ${subject.split('.')[2]} service is running and connected to this site.`,
    })
  }
  if (kind === 'timeout') {
    return new UserError(`No reply to ${subject} within ${formatDuration(timeoutMs)}.`, {
      code: 'timeout',
      exitCode: ExitCode.timeout,
      hint: 'The responder is slow or stuck; raise --timeout or check the service.',
    })
  }
  return connectionError(conn.site, conn.url, error)
}
