import type {MsgHdrs, NatsConnection} from '@nats-io/transport-node'

/** A message's headers in order, as name and value; a name may repeat. */
export type HeaderList = ReadonlyArray<readonly [name: string, value: string]>

/** What JetStream answered for one stored message. */
export interface PublishAck {
  stream: string
  seq: number
  duplicate: boolean
}

interface Pending {
  subject: string
  deadline: number
  resolve: (ack: PublishAck) => void
  reject: (error: Error) => void
}

/**
 * JetStream publishes with acknowledgements for bulk sends (a replay of thousands of dead letters): the same
 * protocol as `js.publish` (a core publish whose reply subject receives the stream's PubAck), with one reply
 * subscription for all of them and one timer sweeping expired ones, instead of a request object, a timer and
 * two Error objects per message. The caller bounds how many are in flight. Failures are the client's own
 * error classes (a timeout, no responders, a JetStream API error), so errors.ts translates them as usual.
 */
export class AckedPublisher {
  private readonly prefix: string
  private readonly pending = new Map<string, Pending>()
  private readonly sweep: NodeJS.Timeout
  private readonly sub: {unsubscribe: () => void}
  private next = 0
  private closed = false

  private constructor(
    private readonly nc: NatsConnection,
    private readonly timeoutMs: number,
    private readonly lib: Awaited<ReturnType<typeof loadLib>>,
  ) {
    this.prefix = `${lib.createInbox()}.`
    this.sub = nc.subscribe(`${this.prefix}*`, {callback: (_error, msg) => this.answered(msg)})
    this.sweep = setInterval(() => this.expire(), Math.max(50, Math.min(500, timeoutMs / 4)))
    this.sweep.unref()
  }

  static async open(nc: NatsConnection, timeoutMs: number): Promise<AckedPublisher> {
    return new AckedPublisher(nc, timeoutMs, await loadLib())
  }

  /**
   * Publishes `data` to `subject` with `headers` and `msgID` as its Nats-Msg-Id (in place of one `headers` may
   * hold); resolves with the stream's ack. A header the protocol cannot carry rejects it, and nothing is sent.
   */
  publish(subject: string, data: Uint8Array, options: {msgID: string; headers: HeaderList}): Promise<PublishAck> {
    const token = (this.next++).toString(36)
    return new Promise<PublishAck>((resolve, reject) => {
      if (this.closed) return reject(new this.lib.ClosedConnectionError())
      try {
        const list: Array<readonly [string, string]> = options.headers.filter(([name]) => name !== MSG_ID)
        list.push([MSG_ID, options.msgID])
        const headers = encodedHeaders(list)
        this.pending.set(token, {subject, deadline: Date.now() + this.timeoutMs, resolve, reject})
        this.nc.publish(subject, data, {reply: this.prefix + token, headers})
      } catch (error) {
        this.pending.delete(token)
        reject(error as Error)
      }
    })
  }

  /** Stops listening; whatever is still waiting fails as closed, and so does any publish after this. */
  close(): void {
    this.closed = true
    clearInterval(this.sweep)
    this.sub.unsubscribe()
    for (const [token, p] of this.pending) {
      this.pending.delete(token)
      p.reject(new this.lib.ClosedConnectionError())
    }
  }

  private answered(msg: {subject: string; data: Uint8Array; headers?: MsgHdrs}): void {
    const token = msg.subject.slice(this.prefix.length)
    const p = this.pending.get(token)
    if (!p) return
    this.pending.delete(token)
    // No stream listens on the subject (or JetStream is not there): the server's 503 status.
    if (msg.data.length === 0 && msg.headers?.code === 503) {
      p.reject(new this.lib.NoRespondersError(p.subject))
      return
    }
    let ack: {
      stream?: unknown
      seq?: unknown
      duplicate?: unknown
      error?: {code: number; err_code: number; description: string}
    }
    try {
      ack = JSON.parse(decoder.decode(msg.data)) as typeof ack
    } catch {
      p.reject(new this.lib.JetStreamError('invalid ack response'))
      return
    }
    if (ack.error) p.reject(new this.lib.JetStreamApiError(ack.error))
    else if (typeof ack.stream !== 'string' || ack.stream === '' || typeof ack.seq !== 'number')
      p.reject(new this.lib.JetStreamError('invalid ack response'))
    else p.resolve({stream: ack.stream, seq: ack.seq, duplicate: ack.duplicate === true})
  }

  private expire(): void {
    const now = Date.now()
    for (const [token, p] of this.pending) {
      if (p.deadline > now) continue
      this.pending.delete(token)
      p.reject(new this.lib.TimeoutError())
    }
  }
}

const decoder = new TextDecoder()
const encoder = new TextEncoder()
const MSG_ID = 'Nats-Msg-Id'

/** A header name as the client allows it: printable ASCII (33 to 126) except `:`. */
const HEADER_NAME = /^[!-9;-~]+$/
const LINE_BREAK = /[\r\n]/

/** A header that NATS cannot carry: a name outside printable ASCII or with `:`, or a value with a line break. */
export class InvalidHeaderError extends Error {
  constructor(name: string, problem: string) {
    super(`header ${JSON.stringify(name.slice(0, 64))} ${problem}`)
    this.name = 'InvalidHeaderError'
  }
}

/**
 * `headers` encoded for the wire once, as the client's MsgHdrs would encode the same names and values appended
 * in this order: `NATS/1.0`, then a `Name: value` line each, values trimmed, the values of one name together
 * at its first place; nothing at all for no headers. A bulk send otherwise builds a MsgHdrs per message, whose
 * every set and append searches and copies its keys: most of what a replay allocated. Throws
 * InvalidHeaderError where MsgHdrs would refuse.
 */
export function encodeHeaders(headers: HeaderList): Uint8Array {
  const grouped = new Map<string, string[]>()
  for (const [name, value] of headers) {
    if (!HEADER_NAME.test(name)) throw new InvalidHeaderError(name, 'is not a valid header name')
    if (LINE_BREAK.test(value)) throw new InvalidHeaderError(name, 'has a value with a line break')
    const values = grouped.get(name)
    if (values) values.push(value.trim())
    else grouped.set(name, [value.trim()])
  }
  if (grouped.size === 0) return new Uint8Array(0)
  let text = 'NATS/1.0'
  for (const [name, values] of grouped) for (const value of values) text += `\r\n${name}: ${value}`
  return encoder.encode(`${text}\r\n\r\n`)
}

/** What the client's publish takes as headers: anything with `encode()`; these bytes are written as they are. */
function encodedHeaders(headers: HeaderList): MsgHdrs {
  const bytes = encodeHeaders(headers)
  return {encode: () => bytes} as unknown as MsgHdrs
}

async function loadLib() {
  const core = await import('@nats-io/transport-node')
  const js = await import('@nats-io/jetstream')
  return {
    createInbox: core.createInbox,
    ClosedConnectionError: core.ClosedConnectionError,
    NoRespondersError: core.NoRespondersError,
    TimeoutError: core.TimeoutError,
    JetStreamApiError: js.JetStreamApiError,
    JetStreamError: js.JetStreamError,
  }
}
