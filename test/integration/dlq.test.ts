import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {DlqListResult} from '../../src/lib/dlq/model.js'
import {createWorkerConsumer} from '../../src/lib/sandbox/workers/consumer.js'
import {startWorker, type Worker} from '../../src/lib/sandbox/workers/worker.js'
import {runCli} from '../helpers/cli.js'
import {command, type DlqSite, eventually, publishCommand, startDlqSite} from './dlq-fixture.js'

describe('dlq', () => {
  let site: DlqSite
  let worker: Worker
  let termSeq: number
  let exhaustSeq: number
  let termCmd: Record<string, unknown>
  let exhaustCmd: Record<string, unknown>
  /** Once healed, the worker succeeds on every command (the fix that makes a replay worth doing). */
  let healed = false
  const cli = (...args: string[]) => runCli([...args, '--server', site.server.url])

  beforeAll(async () => {
    site = await startDlqSite()
    const consumer = await createWorkerConsumer(site.conn, {service: 'maskin', maxDeliver: 3, ackWaitMs: 1000})
    worker = await startWorker(site.conn, {
      service: 'maskin',
      consumer,
      progressSteps: 0,
      behaviour: (c) => {
        if (healed) return 'succeed'
        if (c.envelope.type === 'maskin.server.provision.requested')
          return {fail: {code: 'quota-exceeded', message: 'tenant acme has no quota left'}}
        if (c.envelope.type === 'maskin.server.reboot.requested') return 'transient'
        return 'succeed'
      },
    })
    termCmd = command('maskin.server.provision.requested')
    exhaustCmd = command('maskin.server.reboot.requested')
    termSeq = await publishCommand(site.conn, 'dv.maskin.cmd.provision', termCmd)
    exhaustSeq = await publishCommand(site.conn, 'dv.maskin.cmd.reboot', exhaustCmd)
    await eventually(async () => {
      const r = await cli('dlq', 'list', '--json')
      return DlqListResult.parse(r.json()).dead_letters.length === 2 ? true : undefined
    })
  })
  afterAll(async () => {
    await worker?.stop()
    await site?.dispose()
  })

  it('lists a terminated and an exhausted command with reason, deliveries, correlation and error', async () => {
    const r = await cli('dlq', 'list', '--json')
    expect(r.exitCode).toBe(0)
    const result = DlqListResult.parse(r.json())
    const term = result.dead_letters.find((d) => d.seq === termSeq)!
    const exhausted = result.dead_letters.find((d) => d.seq === exhaustSeq)!
    expect(term).toMatchObject({
      ref: `DV_CMD:${termSeq}`,
      reason: 'terminated',
      deliveries: 1,
      consumer: 'maskin-sandbox',
      subject: 'dv.maskin.cmd.provision',
      type: 'maskin.server.provision.requested',
      id: termCmd.id,
      correlation_id: termCmd.correlation_id,
      tenant_id: 'acme',
      status: 'pending',
      failure: {code: 'quota-exceeded', message: 'tenant acme has no quota left'},
    })
    expect(exhausted).toMatchObject({
      ref: `DV_CMD:${exhaustSeq}`,
      reason: 'max_deliveries',
      deliveries: 3,
      correlation_id: exhaustCmd.correlation_id,
      status: 'pending',
      failure: {code: 'retries-exhausted', message: 'reboot failed transiently 3 times; giving up'},
    })
  })

  it('counts dead letters per type with --group-by', async () => {
    const r = await cli('dlq', 'list', '--group-by', 'type', '--json')
    const result = DlqListResult.parse(r.json())
    expect(result.groups).toEqual([
      {key: 'maskin.server.provision.requested', count: 1},
      {key: 'maskin.server.reboot.requested', count: 1},
    ])
    const text = await cli('dlq', 'list', '--group-by', 'reason')
    expect(text.stdout.trim().split('\n').sort()).toEqual(['max_deliveries\t1', 'terminated\t1'])
  })
})
