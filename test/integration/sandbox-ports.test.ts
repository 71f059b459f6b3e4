// A port chosen for a server can be taken by another process before the server binds it (test files start
// servers in parallel): nats-server then exits with "address already in use", and the server is started
// again on fresh ports. Each test holds a listener on a port and makes the port chooser hand that one out
// first, so the collision happens every time.
import {mkdtemp, rm} from 'node:fs/promises'
import {createServer, type Server} from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {jetstreamManager} from '@nats-io/jetstream'
import {connect} from '@nats-io/transport-node'
import {afterEach, describe, expect, it} from 'vitest'

import {STREAMS} from '../../src/lib/layout/names.js'
import {freePort, startNatsServer, type NatsServerHandle} from '../../src/lib/sandbox/nats-server.js'
import {sandboxDown, sandboxUp} from '../../src/lib/sandbox/sandbox.js'

/** A listener on a free loopback port, as another process would hold it. */
async function occupyPort(): Promise<Server> {
  const server = createServer((socket) => socket.destroy())
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', resolve)
  })
  return server
}

const portOf = (server: Server) => (server.address() as {port: number}).port

/** A port chooser that hands out `taken` at its call number `at` (from 0) and free ports otherwise. */
function chooserTaking(taken: number, at: number) {
  const handedOut: number[] = []
  return {
    handedOut,
    choosePort: async () => {
      const port = handedOut.length === at ? taken : await freePort()
      handedOut.push(port)
      return port
    },
  }
}

describe('a port taken between choosing it and the server binding it', {timeout: 240_000}, () => {
  let held: Server
  const cleanups: (() => Promise<unknown>)[] = []

  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {})
    held?.close()
  })

  /** A sandbox directory of its own (removed afterwards, its servers stopped) and a config file nothing reads. */
  const sandboxDir = async () => {
    const root = await mkdtemp(join(tmpdir(), 'dvctl-sandbox-ports-'))
    const dir = join(root, 'sandbox')
    cleanups.push(
      () => rm(root, {recursive: true, force: true}),
      () => sandboxDown({dir}),
    )
    return {dir, env: {...process.env, DVCTL_CONFIG: join(root, 'unused.yaml')}}
  }

  const started = async (server: NatsServerHandle) => {
    cleanups.push(() => server.dispose())
    const nc = await connect({servers: server.url})
    await nc.close()
    return server
  }

  it('a single server gets a fresh client port', async () => {
    held = await occupyPort()
    const chooser = chooserTaking(portOf(held), 0)
    const server = await started(await startNatsServer({name: 'taken1', choosePort: chooser.choosePort}))
    expect(chooser.handedOut[0]).toBe(portOf(held))
    expect(server.port).not.toBe(portOf(held))
    expect(server.port).toBe(chooser.handedOut.at(-1))
  })

  it('a single server gets a fresh leaf-node port', async () => {
    held = await occupyPort()
    const chooser = chooserTaking(portOf(held), 1)
    const server = await started(
      await startNatsServer({name: 'taken2', leafListen: true, choosePort: chooser.choosePort}),
    )
    expect(server.leafPort).not.toBe(portOf(held))
    expect(chooser.handedOut).toHaveLength(4)
  })

  it('a port the caller gave is not replaced: the server fails at once with its own message', async () => {
    held = await occupyPort()
    const chooser = chooserTaking(0, -1)
    await expect(startNatsServer({name: 'given', port: portOf(held), choosePort: chooser.choosePort})).rejects.toThrow(
      `127.0.0.1:${portOf(held)}: bind: address already in use`,
    )
    expect(chooser.handedOut).toEqual([])
  })

  it('another start-up failure is not retried: the server fails at once with its own message', async () => {
    const chooser = chooserTaking(0, -1)
    await expect(
      startNatsServer({
        name: 'broken',
        extraConfig: 'jetstream {\n  max_memory_store: "lots"\n}',
        choosePort: chooser.choosePort,
      }),
    ).rejects.toThrow(
      /exited with 1 before it was ready:[\s\S]*nats-server\.conf:\d+:\d+: max_mem_store .*invalid syntax/,
    )
    expect(chooser.handedOut).toHaveLength(1)
  })

  it('a sandbox whose hub leaf-node port was taken starts on fresh ports, and its leaf dials the new one', async () => {
    held = await occupyPort()
    const {dir, env} = await sandboxDir()
    // Handed out in order: osl1's client port, osl1's leaf-node port, trd1's client port.
    const chooser = chooserTaking(portOf(held), 1)
    const up = await sandboxUp({
      sites: ['osl1', 'trd1'],
      dir,
      layout: false,
      choosePort: chooser.choosePort,
      env,
    })
    expect(up.sites.map((s) => [s.name, s.running])).toEqual([
      ['osl1', true],
      ['trd1', true],
    ])
    // trd1 logged its leaf-node link to osl1 (else a warning): it dials osl1's new leaf-node port.
    expect(up.warnings).toEqual([])
    expect(chooser.handedOut.length).toBeGreaterThan(3)
  })

  it('a three-node cluster whose route port was taken starts on fresh ports and forms (R3 layout applied)', async () => {
    held = await occupyPort()
    const {dir, env} = await sandboxDir()
    // Handed out per node: client, cluster (route) and leaf-node port; the second is osl1-n1's route port.
    // nats-server logs "Server is ready" before it binds its route port, so the taken one kills it only then.
    const chooser = chooserTaking(portOf(held), 1)
    const up = await sandboxUp({
      sites: ['osl1'],
      dir,
      cluster: 3,
      timeoutMs: 15_000,
      capture: false,
      choosePort: chooser.choosePort,
      env,
    })
    expect(up.sites[0].nodes.map((n) => n.running)).toEqual([true, true, true])
    expect(chooser.handedOut.length).toBeGreaterThan(9)
    const nc = await connect({servers: up.sites[0].servers})
    try {
      const stream = await (await jetstreamManager(nc, {domain: 'osl1'})).streams.info(STREAMS.cmd)
      expect(stream.config.num_replicas).toBe(3)
      expect(stream.cluster?.replicas).toHaveLength(2)
    } finally {
      await nc.close()
    }
  })
})
