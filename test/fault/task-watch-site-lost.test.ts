// Fault: one site's server stops during a live two-site `task watch`. As `tail --follow` does, the
// watch must say the site is lost (stderr), keep showing the other site, say when it is back, and go on
// with its events from the last one seen: each event exactly once (asserted on the NDJSON lines).
import {randomUUID} from 'node:crypto'
import {mkdtemp, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import type {NatsConnection} from '@nats-io/transport-node'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {TaskWatchLine} from '../../src/lib/tasks/watch.js'
import {startCli, type LiveCli} from '../helpers/live-cli.js'
import {natsFixture, type NatsServerHandle} from '../helpers/nats.js'
import {connectTo, ensureStreams, envelope, publish} from '../integration/workflow-seed.js'

describe('task watch over two sites when one is lost', {timeout: 180_000}, () => {
  let dir: string
  let osl1: NatsServerHandle
  let trd1: NatsServerHandle
  let config: string
  let cli: LiveCli | undefined

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dvctl-watch-fault-'))
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

  it('reports the lost site and its return, and shows every event once', async () => {
    const corr = randomUUID()
    const sent: Record<string, string[]> = {osl1: [], trd1: []}
    const emit = async (site: 'osl1' | 'trd1', nc: NatsConnection, verb: string) => {
      const taskId = `${site}-task`
      const e = envelope({
        type: `task.${verb}`,
        source: 'maskin',
        correlation_id: corr,
        subject: taskId,
        data: {task_id: taskId, state: verb},
      })
      await publish(nc, `dv.task.evt.${verb}`, e)
      sent[site].push(e.id)
    }
    const seen = (site: string) =>
      cli!
        .stdout()
        .map((l) => TaskWatchLine.parse(JSON.parse(l)))
        .filter((l) => l.site === site)
        .map((l) => ('envelope' in l ? String(l.envelope.id) : 'invalid'))

    const a = await connectTo(osl1.url)
    let b = await connectTo(trd1.url)
    await emit('osl1', a, 'created')
    await emit('trd1', b, 'created')
    cli = startCli(['task', 'watch', '--json', '--correlation', corr, '--site', 'osl1', '--site', 'trd1'], {
      DVCTL_CONFIG: config,
    })
    await cli.waitFor(() => seen('osl1').length === 1 && seen('trd1').length === 1, 60_000, 'the history')
    await b.close()

    await trd1.stop()
    await cli.waitFor(() => /site trd1 disconnected/.test(cli!.stderr()), 30_000, 'trd1 reported lost')
    await emit('osl1', a, 'started')
    await cli.waitFor(() => seen('osl1').length === 2, 30_000, 'osl1 served while trd1 is down')

    await trd1.start()
    b = await connectTo(trd1.url)
    // Stored before the watch is back: must not be lost.
    await emit('trd1', b, 'started')
    await cli.waitFor(() => /site trd1 reconnected/.test(cli!.stderr()), 60_000, 'trd1 reported back')
    await emit('trd1', b, 'succeeded')
    await emit('osl1', a, 'succeeded')
    await cli.waitFor(() => seen('trd1').length >= 3 && seen('osl1').length >= 3, 30_000, 'every event')
    expect(seen('trd1')).toEqual(sent.trd1)
    expect(seen('osl1')).toEqual(sent.osl1)
    // The notices name the site; the lost site is not an error of the watch.
    expect(cli.stderr()).not.toMatch(/skipped/)
    await Promise.all([a.close(), b.close()])
    expect(await cli.stop()).toBe(130)
    cli = undefined
  })
})
