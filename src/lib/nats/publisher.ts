import type {MsgHdrs, NatsConnection} from '@nats-io/transport-node'

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

  /** Publishes `data` to `subject` with `msgID` as its Nats-Msg-Id; resolves with the stream's ack. */
  publish(subject: string, data: Uint8Array, options: {msgID: string; headers: MsgHdrs}): Promise<PublishAck> {
    const token = (this.next++).toString(36)
    options.headers.set('Nats-Msg-Id', options.msgID)
    return new Promise<PublishAck>((resolve, reject) => {
      this.pending.set(token, {subject, deadline: Date.now() + this.timeoutMs, resolve, reject})
      try {
        this.nc.publish(subject, data, {reply: this.prefix + token, headers: options.headers})
      } catch (error) {
        this.pending.delete(token)
        reject(error as Error)
      }
    })
  }

  /** Stops listening; whatever is still waiting fails as closed. */
  close(): void {
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
