import {randomUUID} from 'node:crypto'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {DlqListResult, DlqShowResult} from '../../src/lib/dlq/model.js'
import {STREAMS} from '../../src/lib/layout/names.js'
import {supportsTermReason} from '../../src/lib/nats/server-version.js'
import {createWorkerConsumer} from '../../src/lib/sandbox/workers/consumer.js'
import {startWorker, type Worker} from '../../src/lib/sandbox/workers/worker.js'
import {runCommand} from '../helpers/run.js'
import {command, type DlqSite, eventually, publishCommand, startDlqSite} from './dlq-fixture.js'

/**
 * A dead letter's failure on whichever nats-server the suite runs (DV_TEST_NATS_SERVER): from 2.10.4 the
 * worker's term reason, carried by the advisory, is the failure of `dlq list` and `dlq show`; on 2.9 the
 * server carries none and the failure comes from the worker's `dv.task.evt.failed` event. The version is
 * the one the server itself reports on connect.
 */
describe('dlq failure from the term reason, or from task.failed on older servers', {timeout: 90_000}, () => {
  let site: DlqSite
  let worker: Worker | undefined
  let version: string
  let termReason: boolean
  const cli = (...args: string[]) => runCommand([...args, '--server', site.server.url])
  const list = async () => DlqListResult.parse((await cli('dlq', 'list', '--json', '--status', 'all')).json())
  const letterAt = (seq: number) =>
    eventually(async () => (await list()).dead_letters.find((d) => d.stream === STREAMS.cmd && d.seq === seq))

  beforeAll(async () => {
    site = await startDlqSite()
    version = site.conn.nc.info?.version ?? ''
    termReason = supportsTermReason(version)
  })
  afterAll(async () => {
    await worker?.stop()
    await site?.dispose()
  })

  it('knows the server version from the server', () => {
    expect(version).toMatch(/^\d+\.\d+\.\d+/)
  })

  it('takes the failure from the term reason on 2.10.4+, from the task.failed event on 2.9', async () => {
    // The worker's failure event and its term reason say different things, so the result shows which won.
    const consumer = await createWorkerConsumer(site.conn, {service: 'nett', maxDeliver: 3})
    const cmd = command('nett.vlan.create.requested', {data: {vlan_id: 120, name: 'web'}})
    const seq = await publishCommand(site.conn, 'dv.nett.cmd.create', cmd)
    const js = await site.conn.js()
    await js.publish(
      'dv.task.evt.failed',
      JSON.stringify({
        specversion: '1.0',
        id: randomUUID(),
        type: 'task.failed',
        source: 'nett',
        time: new Date().toISOString(),
        datacontenttype: 'application/json',
        tenant_id: 'acme',
        actor: 'service:nett',
        correlation_id: cmd.correlation_id,
        causation_id: cmd.id,
        subject: 'tsk-term-reason',
        data: {
          task_id: 'tsk-term-reason',
          state: 'failed',
          error: {code: 'event-says', message: 'the failure event text', retryable: false},
        },
      }),
    )
    const msg = await (await js.consumers.get(STREAMS.cmd, consumer)).next({expires: 5000})
    expect(msg?.seq).toBe(seq)
    // On 2.9 a `+TERM <reason>` is not understood as a term at all, so a worker must send a plain one there.
    msg!.term(termReason ? 'vlan-exists: VLAN 120 is already taken on this site' : undefined)

    const letter = await letterAt(seq)
    const shown = DlqShowResult.parse((await cli('dlq', 'show', `DV_CMD:${seq}`, '--json')).json())
    const text = await cli('dlq', 'list', '--status', 'all')
    if (termReason) {
      const failure = {code: 'vlan-exists', message: 'VLAN 120 is already taken on this site'}
      expect(letter).toMatchObject({reason: 'terminated', term_reason: `${failure.code}: ${failure.message}`, failure})
      expect(shown.dead_letter).toMatchObject({term_reason: `${failure.code}: ${failure.message}`, failure})
      expect(shown.advisory).toMatchObject({reason: `${failure.code}: ${failure.message}`})
      expect(text.stdout).toContain('vlan-exists: VLAN 120 is already taken on this site')
    } else {
      const failure = {code: 'event-says', message: 'the failure event text'}
      expect(letter).toMatchObject({reason: 'terminated', term_reason: null, failure})
      expect(shown.dead_letter).toMatchObject({term_reason: null, failure})
      expect(shown.advisory).not.toHaveProperty('reason')
      expect(text.stdout).toContain('event-says: the failure event text')
    }
    // The failure event stays part of the context either way.
    expect(shown.failure_events.map((e) => e.subject)).toEqual(['dv.task.evt.failed'])
  })

  it('keeps a free-text term reason whole; with no reason and no failure event the failure is null', async () => {
    const consumer = await createWorkerConsumer(site.conn, {service: 'plattform', maxDeliver: 3})
    const pull = await (await site.conn.js()).consumers.get(STREAMS.cmd, consumer)
    const plainSeq = await publishCommand(
      site.conn,
      'dv.plattform.cmd.deploy',
      command('plattform.cluster.deploy.requested'),
    )
    const plain = await pull.next({expires: 5000})
    expect(plain?.seq).toBe(plainSeq)
    plain!.term()
    expect(await letterAt(plainSeq)).toMatchObject({term_reason: null, failure: null})
    if (termReason) {
      const seq = await publishCommand(
        site.conn,
        'dv.plattform.cmd.deploy',
        command('plattform.cluster.deploy.requested'),
      )
      const msg = await pull.next({expires: 5000})
      expect(msg?.seq).toBe(seq)
      msg!.term('Cluster prod-1 rejected the deploy')
      expect(await letterAt(seq)).toMatchObject({
        term_reason: 'Cluster prod-1 rejected the deploy',
        failure: {code: 'terminated', message: 'Cluster prod-1 rejected the deploy'},
      })
    }
  })

  it('the simulated worker terms with its failure as the reason where the server supports it', async () => {
    const consumer = await createWorkerConsumer(site.conn, {service: 'maskin', maxDeliver: 3})
    worker = await startWorker(site.conn, {
      service: 'maskin',
      consumer,
      progressSteps: 0,
      behaviour: {fail: {code: 'quota-exceeded', message: 'tenant acme has no quota left'}},
    })
    const cmd = command('maskin.server.provision.requested')
    const seq = await publishCommand(site.conn, 'dv.maskin.cmd.provision', cmd)
    const letter = await letterAt(seq)
    expect(letter).toMatchObject({
      reason: 'terminated',
      id: cmd.id,
      term_reason: termReason ? 'quota-exceeded: tenant acme has no quota left' : null,
      // The same words either way: the term reason on 2.10.4+, the worker's task.failed event on 2.9.
      failure: {code: 'quota-exceeded', message: 'tenant acme has no quota left'},
    })
  })
})
