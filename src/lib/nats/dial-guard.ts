import {AsyncLocalStorage} from 'node:async_hooks'
import diagnostics from 'node:diagnostics_channel'
import type {Socket} from 'node:net'

/**
 * A failed dial must not keep the process alive.
 *
 * The client (@nats-io/transport-node 3.4) dials a server and waits for its INFO. When the dial's timeout
 * fires first (a server, proxy or firewall that accepts the TCP connection and never speaks), the client
 * gives up on that transport with `close()`, which does nothing for a transport that never connected: the
 * socket stays open, keeps the event loop alive, and a fan-out read that served every other site never
 * exits (test/integration/dial-guard.test.ts shows it with the client alone). See docs/upstream.md.
 *
 * The workaround touches nothing of the client's: each dial runs in its own async context, Node's public
 * `net.client.socket` diagnostics channel reports every client socket as it is created, and the sockets a
 * dial created are destroyed when the dial fails (as are any it creates after we gave up on it, when the
 * client goes on to the site's next server). A dial that succeeds forgets its sockets; the connection owns
 * them. (A TLS-first dial, `tls.handshakeFirst`, creates its socket through `tls.connect`, which this
 * channel does not report; dvctl does not use it.)
 *
 * Context tracking has a price: while an AsyncLocalStorage is enabled, Node runs a hook for every promise the
 * process makes, and a stream read makes several per message (about 5% of a scan's CPU). So the storage is
 * switched off whenever no dial is under way: once every client connect has settled (a dial that connected
 * leaves its sockets to the connection, and a failed connect dials no more). A dial given up whose connect
 * still succeeded later keeps it on, so that the reconnect sockets of that stray connection are still ended.
 */
export interface Dial {
  /** Runs the client's connect in this dial's context. */
  run<T>(connect: () => Promise<T>): Promise<T>
}

interface DialState {
  state: 'dialing' | 'connected' | 'abandoned'
  sockets: Set<Socket>
}

const current = new AsyncLocalStorage<DialState>()
const states = new WeakMap<Dial, DialState>()
let listening = false
/** Dials whose connect has not settled, plus given-up dials whose connect succeeded anyway. */
let tracking = 0

function onSocket(message: unknown): void {
  const dial = current.getStore()
  const socket = (message as {socket?: Socket} | null)?.socket
  if (!dial || !socket) return
  // The connection's own reconnects run in the same context: their sockets belong to the connection.
  if (dial.state === 'connected') return
  if (dial.state === 'abandoned') {
    // Created after the dial was given up: let net.connect finish setting it up, then end it.
    setImmediate(() => socket.destroy())
    return
  }
  dial.sockets.add(socket)
}

/** A new dial; its sockets are tracked from `run` on. */
export function dialing(): Dial {
  if (!listening) {
    diagnostics.subscribe('net.client.socket', onSocket)
    listening = true
  }
  const state: DialState = {state: 'dialing', sockets: new Set()}
  const dial: Dial = {
    async run(connect) {
      tracking++
      let result: Awaited<ReturnType<typeof connect>>
      try {
        result = await current.run(state, connect)
      } catch (error) {
        untrack()
        throw error
      }
      if (state.state === 'dialing') {
        state.state = 'connected'
        state.sockets.clear()
      }
      // Connected after it was given up: its connection's reconnects must still be ended (onSocket).
      if (state.state !== 'abandoned') untrack()
      return result
    },
  }
  states.set(dial, state)
  return dial
}

/** One dial needs no more tracking; with none left, the storage (and its per-promise hook) is switched off. */
function untrack(): void {
  if (--tracking === 0) current.disable()
}

/** The dial failed or was given up: destroy the sockets it left, and any it opens from now on. */
export function closeAbandonedSockets(dial: Dial): void {
  const state = states.get(dial)
  if (!state || state.state === 'connected') return
  state.state = 'abandoned'
  for (const socket of state.sockets) socket.destroy()
  state.sockets.clear()
}
