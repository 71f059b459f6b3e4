import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {DlqListResult, DlqShowResult} from '../../src/lib/dlq/model.js'
import {STREAMS} from '../../src/lib/layout/names.js'
import {connectSite, type SiteConnection} from '../../src/lib/nats/connection.js'
import {createWorkerConsumer} from '../../src/lib/sandbox/workers/consumer.js'
import {startWorker, type Worker} from '../../src/lib/sandbox/workers/worker.js'
import {runCommand} from '../helpers/run.js'
import {sandboxFixture, type SandboxFixture} from '../helpers/nats.js'
import {command, eventually, publishCommand, streamMessages} from './dlq-fixture.js'

describe('dlq across sites', {timeout: 90_000}, () => {
  let sandbox: SandboxFixture
  const conns: SiteConnection[] = []
  const workers: Worker[] = []
  const seqs: Record<string, number> = {}
  const cli = (...args: string[]) => runCommand(args, {env: {DVCTL_CONFIG: sandbox.config}})

  beforeAll(async () => {
    sandbox = await sandboxFixture({layout: true})
    for (const site of sandbox.sites) {
      const conn = await connectSite({name: site.name, servers: [site.url]}, {timeoutMs: 5000})
      conns.push(conn)
      const consumer = await createWorkerConsumer(conn, {service: 'maskin', maxDeliver: 2, ackWaitMs: 1000})
      workers.push(await startWorker(conn, {service: 'maskin', consumer, progressSteps: 0, behaviour: 'fail'}))
      seqs[site.name] = await publishCommand(
        conn,
        'dv.maskin.cmd.provision',
        command('maskin.server.provision.requested', {datacenter_id: site.name}),
      )
    }
    for (const conn of conns)
      await eventually(async () => ((await streamMessages(conn, STREAMS.dlq)) >= 1 ? true : undefined))
  })
  afterAll(async () => {
    await Promise.all(workers.map((w) => w.stop()))
    await Promise.all(conns.map((c) => c.close()))
    await sandbox?.dispose()
  })

  it('lists each site own dead letters with site-qualified refs, never another site advisory', async () => {
    const r = await cli('dlq', 'list', '--all-sites', '--json')
    expect(r.exitCode).toBe(0)
    const result = DlqListResult.parse(r.json())
    expect(result.sites.map((s) => s.site).sort()).toEqual(['osl1', 'trd1'])
    expect(result.dead_letters.map((d) => d.ref).sort()).toEqual([
      `osl1/DV_CMD:${seqs.osl1}`,
      `trd1/DV_CMD:${seqs.trd1}`,
    ])
    for (const d of result.dead_letters) expect(d.site).toBe(d.ref.split('/')[0])
  })

  it('shows a site-qualified ref from its own site without --site', async () => {
    const r = await cli('dlq', 'show', `trd1/DV_CMD:${seqs.trd1}`, '--json')
    expect(r.exitCode).toBe(0)
    const shown = DlqShowResult.parse(r.json())
    expect(shown.dead_letter.site).toBe('trd1')
    expect((shown.envelope as {datacenter_id: string}).datacenter_id).toBe('trd1')
  })
})
