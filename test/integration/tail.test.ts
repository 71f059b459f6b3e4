import {randomUUID} from 'node:crypto'

import type {NatsConnection} from '@nats-io/transport-node'
import {afterAll, afterEach, beforeAll, describe, expect, it} from 'vitest'

import {WorkflowResult} from '../../src/lib/workflow/read.js'
import {TailLine} from '../../src/lib/workflow/tail.js'
import {startCli, type LiveCli} from '../helpers/live-cli.js'
import {runCommand, startCommand, type LiveCommand} from '../helpers/run.js'
import {natsFixture, type NatsServerHandle} from '../helpers/nats.js'
import {connectTo, ensureStreams, envelope, publish} from './workflow-seed.js'

// Upper bounds only: on an idle machine each test takes a second or two.
describe('tail', {timeout: 120_000}, () => {
  let server: NatsServerHandle
  let nc: NatsConnection
  const running: Array<LiveCli | LiveCommand> = []

  beforeAll(async () => {
    server = await natsFixture({name: 'osl1'})
    nc = await connectTo(server.url)
    await ensureStreams(nc)
  })
  afterEach(async () => {
    await Promise.all(running.splice(0).map((c) => c.stop()))
  })
  afterAll(async () => {
    await nc?.close()
    await server?.dispose()
  })

  const follow = async (...extra: string[]) => {
    const cli = startCommand(['tail', '--follow', '--json', '--server', server.url, ...extra])
    running.push(cli)
    await cli.waitFor(() => cli.stderr().includes('Waiting for new messages'))
    return cli
  }
  const ids = (cli: LiveCommand) =>
    cli
      .stdout()
      .map((l) => TailLine.parse(JSON.parse(l)))
      .map((l) => ('envelope' in l ? String(l.envelope.id) : 'invalid'))

  it('shows a message published after it started, promptly', async () => {
    const cli = await follow()
    const e = envelope({
      type: 'maskin.server.provision.requested',
      source: 'sentral',
      correlation_id: randomUUID(),
      data: {server_id: 's', profile: 'small'},
    })
    const sent = Date.now()
    await publish(nc, 'dv.maskin.cmd.provision', e)
    await cli.waitFor(() => cli.stdout().some((l) => l.includes(e.id)))
    // Reported, not asserted (no timing assertions): the latency from publish to the printed line.
    console.log(`tail --follow: line printed ${Date.now() - sent}ms after publish`)
    const line = TailLine.parse(JSON.parse(cli.stdout()[0]))
    expect(line).toMatchObject({
      site: server.url.replace('nats://', ''),
      stream: 'DV_CMD',
      subject: 'dv.maskin.cmd.provision',
      envelope: e,
    })
    expect(await cli.stop()).toBe(130)
  })

  it('shows a non-JSON message and an envelope without correlation_id as invalid, and keeps going', async () => {
    const cli = await follow()
    await publish(nc, 'dv.maskin.cmd.provision', 'this is not json')
    const {correlation_id: _drop, ...noCorrelation} = envelope({
      type: 'maskin.server.provision.requested',
      source: 'sentral',
      correlation_id: 'x',
      data: {server_id: 's', profile: 'small'},
    })
    await publish(nc, 'dv.maskin.cmd.provision', JSON.stringify(noCorrelation))
    const after = envelope({
      type: 'task.started',
      source: 'maskin',
      subject: 't-1',
      correlation_id: randomUUID(),
      data: {task_id: 't-1', state: 'started'},
    })
    await publish(nc, 'dv.task.evt.started', after)
    await cli.waitFor(() => cli.stdout().length >= 3)
    const all = cli.stdout().map((l) => TailLine.parse(JSON.parse(l)))
    // Live lines come in arrival order; two streams' consumers may interleave, so order is checked per stream.
    const lines = [...all.filter((l) => l.stream === 'DV_CMD'), ...all.filter((l) => l.stream !== 'DV_CMD')]
    expect(lines).toHaveLength(3)
    expect(lines[0]).toMatchObject({
      invalid: true,
      raw: 'this is not json',
      problems: [expect.objectContaining({code: 'not-json'})],
    })
    expect(lines[1]).toMatchObject({
      invalid: true,
      problems: [expect.objectContaining({code: 'missing-correlation', path: '$.correlation_id'})],
    })
    expect(lines[2]).toMatchObject({stream: 'DV_TASK', envelope: after})
  })

  it('prints human lines with time, site, subject, type, short id, correlation and a summary', async () => {
    const corr = randomUUID()
    const e = envelope({
      type: 'task.failed',
      source: 'nett',
      subject: 't-9',
      correlation_id: corr,
      data: {
        task_id: 't-9',
        state: 'failed',
        error: {code: 'vlan-exhausted', message: 'no free VLAN', retryable: false},
      },
    })
    await publish(nc, 'dv.task.evt.failed', e)
    const r = await runCommand(['tail', '--correlation', corr, '--server', server.url])
    expect(r.exitCode, r.stderr).toBe(0)
    expect(r.stdout.trim()).toBe(
      `${r.stdout.slice(0, 24)}  ${server.url.replace('nats://', '')}  dv.task.evt.failed  task.failed  ${e.id.slice(0, 8)}  corr=${corr.slice(0, 8)}  failed error vlan-exhausted: no free VLAN`,
    )
  })

  it('shows NATS headers with --headers', async () => {
    const {headers} = await import('@nats-io/transport-node')
    const {jetstream} = await import('@nats-io/jetstream')
    const corr = randomUUID()
    const e = envelope({
      type: 'maskin.server.provision.requested',
      source: 'sentral',
      correlation_id: corr,
      data: {server_id: 's', profile: 'small'},
    })
    const h = headers()
    h.set('Dv-Origin', 'dvctl')
    await jetstream(nc).publish('dv.maskin.cmd.provision', JSON.stringify(e), {headers: h, msgID: e.id})
    const r = await runCommand(['tail', '--correlation', corr, '--headers', '--json', '--server', server.url])
    expect(r.exitCode, r.stderr).toBe(0)
    expect(TailLine.parse(r.lines()[0])).toMatchObject({
      headers: {'Dv-Origin': ['dvctl'], 'Nats-Msg-Id': [e.id]},
      envelope: e,
    })
  })

  it('filters by subject, family, service, type and tenant', async () => {
    const corr = randomUUID()
    const mk = (type: string, source: string, data: Record<string, unknown>, tenant?: string) =>
      envelope({type, source, correlation_id: corr, data, ...(tenant ? {tenant_id: tenant} : {})})
    const cmd = mk('maskin.server.provision.requested', 'sentral', {server_id: 's', profile: 'small'}, 'acme')
    const evt = mk('maskin.server.provisioned', 'maskin', {server_id: 's'}, 'other')
    const task = {...mk('task.started', 'nett', {task_id: 't', state: 'started'}), subject: 't'}
    await publish(nc, 'dv.maskin.cmd.provision', cmd)
    await publish(nc, 'dv.maskin.evt.server.provisioned', evt)
    await publish(nc, 'dv.task.evt.started', task)
    const run = async (...args: string[]) => {
      const r = await runCommand(['tail', '--correlation', corr, '--server', server.url, '--json', ...args])
      expect(r.exitCode, r.stderr).toBe(0)
      return r.lines().map((l) => String(l.envelope?.id))
    }
    const [bySubject, byFamily, byService, byType, byTenant] = await Promise.all([
      run('--subject', 'dv.maskin.>'),
      run('--family', 'task'),
      run('--service', 'nett'),
      run('--type', 'maskin.server.*'),
      run('--tenant', 'acme'),
    ])
    expect(bySubject).toEqual([cmd.id, evt.id])
    expect(byFamily).toEqual([task.id])
    expect(byService).toEqual([task.id])
    expect(byType).toEqual([cmd.id, evt.id])
    expect(byTenant).toEqual([cmd.id])
  })

  it('refuses a subject filter outside the taxonomy with exit 2', async () => {
    const r = await runCommand(['tail', '--subject', 'foo.bar', '--server', server.url])
    expect(r.exitCode).toBe(2)
    expect(r.stderr).toContain('Invalid subject filter "foo.bar"')
  })

  it('workflow show --follow starts from the history and adds new messages and dead letters as they come', async () => {
    const corr = randomUUID()
    const root = envelope({
      type: 'maskin.server.provision.requested',
      source: 'sentral',
      correlation_id: corr,
      data: {server_id: 's', profile: 'small'},
    })
    const rootSeq = await publish(nc, 'dv.maskin.cmd.provision', root)
    // Spawned: the end-to-end check that Ctrl-C (a real SIGINT) ends a live view with 130.
    const cli = startCli(['workflow', 'show', corr, '--follow', '--json', '--server', server.url])
    running.push(cli)
    await cli.waitFor(() => cli.stdout().length >= 1)
    const snapshot = WorkflowResult.parse(JSON.parse(cli.stdout()[0]))
    expect(snapshot.messages.map((m) => m.id)).toEqual([root.id])
    const child = envelope({
      type: 'task.started',
      source: 'maskin',
      subject: 't',
      causation_id: root.id,
      correlation_id: corr,
      data: {task_id: 't', state: 'started'},
    })
    await publish(nc, 'dv.task.evt.started', child)
    await cli.waitFor(() => cli.stdout().length >= 2)
    expect(JSON.parse(cli.stdout()[1])).toMatchObject({
      id: child.id,
      causation_id: root.id,
      parent_seen: true,
      status: 'running',
      stream: 'DV_TASK',
    })
    const {jetstream} = await import('@nats-io/jetstream')
    await jetstream(nc).publish(
      '$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.DV_CMD.maskin',
      JSON.stringify({
        type: 'io.nats.jetstream.advisory.v1.max_deliver',
        stream: 'DV_CMD',
        consumer: 'maskin',
        stream_seq: rootSeq,
        deliveries: 5,
        domain: 'osl1',
      }),
    )
    await cli.waitFor(() => cli.stdout().length >= 3)
    expect(JSON.parse(cli.stdout()[2])).toMatchObject({
      dead_letter: {ref: `DV_CMD:${rootSeq}`, id: root.id, reason: 'max_deliveries', deliveries: 5},
      status: 'dead-lettered',
    })
    expect(await cli.stop()).toBe(130)
    expect(cli.stdout()).toHaveLength(3)
  })

  // Last: it restarts the server under every connection of this file.
  it('resumes after a server restart without repeating or losing messages', async () => {
    const corr = randomUUID()
    const cli = await follow('--correlation', corr, '--since', '1h')
    const sent: string[] = []
    const send = async (conn: NatsConnection, n: number) => {
      for (let i = 0; i < n; i++) {
        const e = envelope({
          type: 'maskin.server.provision.requested',
          source: 'sentral',
          correlation_id: corr,
          data: {server_id: `s${sent.length}`, profile: 'small'},
        })
        await publish(conn, 'dv.maskin.cmd.provision', e)
        sent.push(e.id)
      }
    }
    await send(nc, 5)
    await cli.waitFor(() => cli.stdout().length >= 5)
    await server.stop()
    await cli.waitFor(() => cli.stderr().includes('disconnected'))
    await server.start()
    // Published by a fresh connection while the tail is still reconnecting.
    const other = await connectTo(server.url)
    try {
      await send(other, 5)
      await cli.waitFor(() => cli.stderr().includes('reconnected'))
      await send(other, 5)
    } finally {
      await other.close()
    }
    await cli.waitFor(() => cli.stdout().length >= 15)
    // One more message after the rest: once it is printed, a repeat of an earlier one would have been too.
    const marker = await connectTo(server.url)
    try {
      await send(marker, 1)
    } finally {
      await marker.close()
    }
    await cli.waitFor(() => ids(cli).length >= 16)
    expect(ids(cli)).toEqual(sent)
    expect(cli.stderr()).toMatch(/Warning: site .* disconnected/)
  })
})
