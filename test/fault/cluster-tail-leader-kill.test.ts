// Fault: `tail --follow` of a `--cluster 3` sandbox site while the DV_CMD stream leader's nats-server is
// killed (SIGKILL). The tail is given all three URLs (the sandbox config); it must carry on through the
// leader election and the loss of a server, and print every command exactly once, in order: none lost,
// none repeated. Asserted on the NDJSON lines (the messages themselves).
import {randomUUID} from 'node:crypto'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {STREAMS} from '../../src/lib/layout/names.js'
import {connectSite, type SiteConnection} from '../../src/lib/nats/connection.js'
import {retryTransient} from '../../src/lib/nats/transient.js'
import {TailLine} from '../../src/lib/workflow/tail.js'
import {startCli, type LiveCli} from '../helpers/live-cli.js'
import {sandboxFixture, type SandboxFixture} from '../helpers/nats.js'
import {envelope} from '../integration/workflow-seed.js'
import {eventually} from './harness.js'

describe('tail --follow on a three-node cluster when the DV_CMD leader is killed', {timeout: 600_000}, () => {
  let fx: SandboxFixture
  let conn: SiteConnection
  let cli: LiveCli | undefined

  beforeAll(async () => {
    fx = await sandboxFixture({sites: ['osl1'], cluster: 3})
    conn = await connectSite(
      {name: 'osl1', servers: fx.sites[0].servers, js_domain: 'osl1'},
      {timeoutMs: 15_000, name: 'tail-fault-publisher'},
    )
  }, 240_000)

  afterAll(async () => {
    await cli?.stop()
    await conn?.close()
    await fx?.dispose()
  })

  it('prints every message exactly once across the leader kill', async () => {
    const corr = randomUUID()
    const sent: string[] = []
    const js = await conn.js()
    // Each command is published until acknowledged; its id as Nats-Msg-Id makes a repeat after a lost
    // acknowledgement (the leader died) a duplicate the stream drops, so the stream holds each once.
    const send = async (n: number) => {
      for (let i = 0; i < n; i++) {
        const e = envelope({
          type: 'maskin.server.provision.requested',
          source: 'sentral',
          correlation_id: corr,
          datacenter_id: 'osl1',
          data: {server_id: `srv-${sent.length}`, profile: 'small'},
        })
        await retryTransient(() => js.publish('dv.maskin.cmd.provision', JSON.stringify(e), {msgID: e.id}), {
          withinMs: 60_000,
        })
        sent.push(e.id)
      }
    }
    const seen = () =>
      cli!
        .stdout()
        .map((l) => TailLine.parse(JSON.parse(l)))
        .map((l) => ('envelope' in l ? String(l.envelope.id) : 'invalid'))

    cli = startCli(['tail', '--follow', '--json', '--correlation', corr, '--site', 'osl1', '--timeout', '5s'], {
      DVCTL_CONFIG: fx.config,
    })
    await cli.waitFor(() => cli!.stderr().includes('Waiting for new messages'), 120_000, 'the tail to start')
    await send(20)
    await cli.waitFor(() => seen().length >= 20, 60_000, '20 lines')

    const jsm = await conn.jsm()
    const leader = (await jsm.streams.info(STREAMS.cmd)).cluster?.leader
    const victim = fx.sites[0].nodes.find((n) => n.name === leader)
    expect(victim, `leader ${leader}`).toBeDefined()
    process.kill(victim!.pid, 'SIGKILL')

    // Published while the stream elects a new leader, and after.
    await send(20)
    await eventually(
      async () => ((await jsm.streams.info(STREAMS.cmd)).cluster?.leader !== leader ? true : undefined),
      60_000,
      'a new DV_CMD leader',
    )
    await send(20)
    await cli.waitFor(() => seen().length >= 60, 120_000, 'all 60 lines')
    // One more, printed after everything before it: any repeat of an earlier message would come first.
    await send(1)
    await cli.waitFor(() => seen().includes(sent.at(-1)!), 60_000, 'the last line')
    expect(seen()).toEqual(sent)
    expect(await cli.stop()).toBe(130)
    cli = undefined
  })
})
