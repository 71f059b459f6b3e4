// Fault: one site's server stops during a two-site `tail --follow`. The tail must keep streaming the
// other site, report the lost site, and once it returns resume it from the last message seen: every
// message of each site exactly once, in order, none lost and none repeated. Asserted on the NDJSON lines
// (the messages themselves), the stderr report only for "the lost site was named".
import {randomUUID} from 'node:crypto'
import {mkdtemp, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import type {NatsConnection} from '@nats-io/transport-node'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {TailLine} from '../../src/lib/workflow/tail.js'
import {natsFixture, type NatsServerHandle} from '../helpers/nats.js'
import {connectTo, ensureStreams, envelope, publish} from '../integration/workflow-seed.js'
import {startCli, type LiveCli} from '../helpers/live-cli.js'

describe('tail --follow over two sites when one is lost', {timeout: 180_000}, () => {
  let dir: string
  let osl1: NatsServerHandle
  let trd1: NatsServerHandle
  let config: string
  let cli: LiveCli | undefined

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dvctl-tail-fault-'))
    ;[osl1, trd1] = await Promise.all([natsFixture({name: 'osl1'}), natsFixture({name: 'trd1'})])
    for (const s of [osl1, trd1]) {
      const nc = await connectTo(s.url)
      await ensureStreams(nc)
      await nc.close()
    }
    config = join(dir, 'config.yaml')
    await writeFile(
      config,
      `default_site: osl1\nsites:\n  osl1: {servers: ["${osl1.url}"]}\n  trd1: {servers: ["${trd1.url}"]}\n`,
    )
  }, 60_000)
  afterAll(async () => {
    await cli?.stop()
    await Promise.all([osl1?.dispose(), trd1?.dispose()])
    await rm(dir, {recursive: true, force: true})
  })

  it('keeps the other site, names the lost one, and resumes it without gaps or repeats', async () => {
    const corr = randomUUID()
    const sent: Record<string, string[]> = {osl1: [], trd1: []}
    const send = async (site: 'osl1' | 'trd1', nc: NatsConnection, n: number) => {
      for (let i = 0; i < n; i++) {
        const e = envelope({
          type: 'maskin.server.provision.requested',
          source: 'sentral',
          correlation_id: corr,
          datacenter_id: site,
          data: {server_id: `${site}-${sent[site].length}`, profile: 'small'},
        })
        await publish(nc, 'dv.maskin.cmd.provision', e)
        sent[site].push(e.id)
      }
    }
    const seen = (site: string) =>
      cli!
        .stdout()
        .map((l) => TailLine.parse(JSON.parse(l)))
        .filter((l) => l.site === site)
        .map((l) => ('envelope' in l ? String(l.envelope.id) : 'invalid'))

    cli = startCli(['tail', '--follow', '--json', '--correlation', corr, '--site', 'osl1', '--site', 'trd1'], {
      DVCTL_CONFIG: config,
    })
    await cli.waitFor(() => cli!.stderr().includes('Waiting for new messages'), 60_000, 'the tail to start')
    const a = await connectTo(osl1.url)
    let b = await connectTo(trd1.url)
    await send('osl1', a, 5)
    await send('trd1', b, 5)
    await cli.waitFor(() => cli!.stdout().length >= 10, 30_000, '10 lines')
    await b.close()

    // trd1 goes away; osl1 keeps being served meanwhile.
    await trd1.stop()
    await cli.waitFor(
      () => /trd1/.test(cli!.stderr()) && /disconnect/i.test(cli!.stderr()),
      30_000,
      'trd1 reported lost',
    )
    await send('osl1', a, 5)
    await cli.waitFor(() => seen('osl1').length >= 10, 30_000, 'osl1 served while trd1 is down')
    expect(seen('osl1')).toEqual(sent.osl1)

    // trd1 returns; messages stored there before the tail reconnects must not be lost.
    await trd1.start()
    b = await connectTo(trd1.url)
    await send('trd1', b, 5)
    await cli.waitFor(() => /trd1 reconnected/.test(cli!.stderr()), 60_000, 'trd1 reconnected')
    await send('trd1', b, 5)
    await send('osl1', a, 3)
    await cli.waitFor(() => seen('trd1').length >= 15 && seen('osl1').length >= 13, 30_000, 'all lines')
    // One more per site, printed after everything before it there: any repeat would come first.
    await send('trd1', b, 1)
    await send('osl1', a, 1)
    await cli.waitFor(
      () => seen('trd1').includes(sent.trd1.at(-1)!) && seen('osl1').includes(sent.osl1.at(-1)!),
      30_000,
      'the last line of each site',
    )
    expect(seen('trd1')).toEqual(sent.trd1)
    expect(seen('osl1')).toEqual(sent.osl1)
    await Promise.all([a.close(), b.close()])
    expect(await cli.stop()).toBe(130)
    cli = undefined
  })
})
