import {mkdtemp, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {validateEnvelope} from '../../src/lib/contract/envelope.js'
import {STREAMS} from '../../src/lib/layout/names.js'
import {connectSite, type SiteConnection} from '../../src/lib/nats/connection.js'
import {InvalidMessageError, PublishResult} from '../../src/lib/publish/publish.js'
import {runCommand} from '../helpers/run.js'
import {natsFixture, type NatsServerHandle} from '../helpers/nats.js'

const PROVISION = JSON.stringify({server_id: 'srv-1', profile: 'small'})

describe('publish', {timeout: 60_000}, () => {
  let server: NatsServerHandle
  let conn: SiteConnection

  beforeAll(async () => {
    server = await natsFixture({name: 'osl1', layout: true})
    conn = await connectSite({name: 'osl1', servers: [server.url]}, {timeoutMs: 5000})
  })
  afterAll(async () => {
    await conn?.close()
    await server?.dispose()
  })

  const cmdCount = async () => (await (await conn.jsm()).streams.info(STREAMS.cmd)).state.messages
  const publish = (args: string[], input?: string) =>
    runCommand(['publish', ...args, '--server', server.url, '--json'], {input})

  it('stores exactly one message in DV_CMD whose envelope passes contract validate, with Nats-Msg-Id', async () => {
    const before = await cmdCount()
    const r = await publish(['dv.maskin.cmd.provision', '--data', PROVISION, '--tenant', 't1', '--actor', 'alice'])
    expect(r.exitCode).toBe(0)
    const result = PublishResult.parse(r.json())
    expect(result).toMatchObject({
      subject: 'dv.maskin.cmd.provision',
      stream: 'DV_CMD',
      duplicate: false,
      dry_run: false,
    })
    expect(await cmdCount()).toBe(before + 1)

    const stored = await (await conn.jsm()).streams.getMessage(STREAMS.cmd, {seq: result.seq!})
    expect(stored!.header.get('Nats-Msg-Id')).toBe(result.envelope.id)
    expect(stored!.header.get('Dv-Origin')).toBe('dvctl')
    const envelope = stored!.json<Record<string, unknown>>()
    expect(envelope).toEqual(result.envelope)
    expect(envelope).toMatchObject({
      specversion: '1.0',
      type: 'maskin.server.provision.requested',
      source: 'sentral',
      tenant_id: 't1',
      actor: 'alice',
      datacenter_id: 'osl1',
      data: {server_id: 'srv-1', profile: 'small'},
    })
    expect(envelope.correlation_id).toBe(envelope.id)
    expect(envelope).not.toHaveProperty('causation_id')

    // The stored envelope passes `contract validate` (the real command, reading it on stdin).
    const v = await runCommand(['contract', 'validate', '-', '--json'], {input: stored!.string()})
    expect(v.exitCode).toBe(0)
    expect(v.json().valid).toBe(true)
    expect(validateEnvelope(envelope, {subject: 'dv.maskin.cmd.provision'}).problems).toEqual([])
  })

  it.each([
    ['an invalid subject', ['dv.Maskin.cmd.provision', '--data', PROVISION], 'bad-token'],
    ['an unknown service', ['dv.lager.cmd.provision', '--data', PROVISION], 'unknown-service'],
    ['an RPC subject', ['dv.rpc.identitet.introspect_token', '--data', '{"token":"x"}'], 'forbidden-subject'],
    ['a JetStream API subject', ['$JS.API.STREAM.DELETE.DV_CMD', '--data', '{}'], 'forbidden-subject'],
    ['non-object data', ['dv.maskin.cmd.provision', '--data', '[1,2]'], 'data-not-object'],
    ['a missing actor', ['dv.maskin.cmd.provision', '--data', PROVISION, '--actor', ''], 'missing-field'],
    [
      'a 10 KiB base64 blob',
      [
        'dv.maskin.cmd.provision',
        '--data',
        JSON.stringify({server_id: 's', profile: 'p', blob: Buffer.alloc(10 * 1024, 7).toString('base64')}),
      ],
      'opaque-binary',
    ],
    [
      'a payload failing its registered schema',
      ['dv.maskin.cmd.provision', '--data', '{"server_id":42}'],
      'schema-violation',
    ],
    ['a task event without a task id', ['dv.task.evt.started', '--data', '{"state":"started"}'], 'missing-field'],
  ])('refuses %s: exit 2, every problem listed, the stream unchanged', async (_what, args, code) => {
    const before = await cmdCount()
    const r = await publish(args)
    expect(r.exitCode).toBe(2)
    const {error} = InvalidMessageError.parse(r.json())
    expect(error.problems.map((p) => p.code)).toContain(code)
    expect(await cmdCount()).toBe(before)
  })

  it('lists every problem at once for a human, on stderr, and sends nothing', async () => {
    const before = await cmdCount()
    const r = await runCommand([
      'publish',
      'dv.maskin.cmd.provision',
      '--data',
      '{"server_id":1}',
      '--actor',
      '',
      '--server',
      server.url,
    ])
    expect(r.exitCode).toBe(2)
    expect(r.stdout).toBe('')
    expect(r.stderr).toContain('3 problems')
    expect(r.stderr).toMatch(/\$\.actor\s+missing-field/)
    expect(r.stderr).toMatch(/\$\.data\.server_id\s+schema-violation/)
    expect(r.stderr).toMatch(/\$\.data\.profile\s+schema-violation/)
    expect(r.stderr).not.toMatch(/at .*\.js:\d+/)
    expect(await cmdCount()).toBe(before)
  })

  it('validates against a team schema from --schemas, by the dataschema version', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'dvctl-h4-schemas-'))
    try {
      await writeFile(
        join(dir, 'maskin.server.provision.requested.v2.json'),
        JSON.stringify({type: 'object', required: ['server_id', 'rack'], properties: {rack: {type: 'string'}}}),
      )
      const v2 = ['--dataschema', 'maskin.server.provision.requested/v2', '--schemas', dir]
      const before = await cmdCount()
      const bad = await publish(['dv.maskin.cmd.provision', '--data', '{"server_id":"s"}', ...v2])
      expect(bad.exitCode).toBe(2)
      expect(InvalidMessageError.parse(bad.json()).error.problems[0]).toMatchObject({code: 'schema-violation'})
      expect(await cmdCount()).toBe(before)
      const good = await publish(['dv.maskin.cmd.provision', '--data', '{"server_id":"s","rack":"r7"}', ...v2])
      expect(good.exitCode).toBe(0)
      expect(await cmdCount()).toBe(before + 1)
    } finally {
      await rm(dir, {recursive: true, force: true})
    }
  })

  it('refuses JSON that does not parse with exit 2', async () => {
    const r = await publish(['dv.maskin.cmd.provision', '--data', '{server_id:'])
    expect(r.exitCode).toBe(2)
    expect(r.json().error.code).toBe('payload-not-json')
  })

  it('re-publishing the same envelope id within the duplicate window reports duplicate and stores nothing', async () => {
    const id = `dup-${Date.now()}`
    const first = PublishResult.parse(
      (await publish(['dv.maskin.cmd.provision', '--data', PROVISION, '--id', id])).json(),
    )
    expect(first.duplicate).toBe(false)
    const before = await cmdCount()
    const r = await publish(['dv.maskin.cmd.provision', '--data', PROVISION, '--id', id])
    expect(r.exitCode).toBe(0)
    const second = PublishResult.parse(r.json())
    expect(second.duplicate).toBe(true)
    expect(second.seq).toBe(first.seq)
    expect(await cmdCount()).toBe(before)
  })

  it('reads the payload from standard input with --data -', async () => {
    const r = await publish(
      ['dv.nett.cmd.apply', '--data', '-', '--correlation-id', 'wf-stdin', '--causation-id', 'c-0'],
      '{"network_id":"net-7"}',
    )
    expect(r.exitCode).toBe(0)
    const result = PublishResult.parse(r.json())
    expect(result.envelope).toMatchObject({
      type: 'nett.apply.requested',
      correlation_id: 'wf-stdin',
      causation_id: 'c-0',
      data: {network_id: 'net-7'},
    })
  })

  it('publishes events (source: the owning service) and task events for testing consumers', async () => {
    const evt = PublishResult.parse(
      (await publish(['dv.plattform.evt.cluster.ready', '--data', '{"cluster_id":"c1"}', '--subject-id', 'c1'])).json(),
    )
    expect(evt).toMatchObject({stream: 'DV_EVT', envelope: {type: 'plattform.cluster.ready', source: 'plattform'}})
    const task = PublishResult.parse(
      (
        await publish([
          'dv.task.evt.started',
          '--data',
          '{"task_id":"tsk-1","state":"started"}',
          '--subject-id',
          'tsk-1',
          '--source',
          'maskin',
        ])
      ).json(),
    )
    expect(task).toMatchObject({stream: 'DV_TASK', envelope: {type: 'task.started', subject: 'tsk-1'}})
  })

  it('--dry-run validates and prints the envelope without connecting or sending', async () => {
    const before = await cmdCount()
    const r = await runCommand(['publish', 'dv.maskin.cmd.provision', '--data', PROVISION, '--dry-run', '--json'])
    expect(r.exitCode).toBe(0)
    const result = PublishResult.parse(r.json())
    expect(result).toMatchObject({dry_run: true, stream: null, seq: null})
    expect(validateEnvelope(result.envelope, {subject: 'dv.maskin.cmd.provision'}).valid).toBe(true)
    expect(await cmdCount()).toBe(before)
  })

  it('a subject whose type has no schema is sent with a warning naming the nearest known subject', async () => {
    const before = await cmdCount()
    const r = await runCommand(['publish', 'dv.maskin.cmd.provison', '--data', PROVISION, '--server', server.url])
    expect(r.exitCode).toBe(0)
    expect(r.stderr).toContain('No payload schema is registered for type maskin.provison.requested')
    expect(r.stderr).toContain('Did you mean dv.maskin.cmd.provision?')
    expect(await cmdCount()).toBe(before + 1)
  })

  it('--strict refuses a subject whose type has no schema (exit 2), sending nothing', async () => {
    const before = await cmdCount()
    const r = await publish(['dv.maskin.cmd.provison', '--data', PROVISION, '--strict'])
    expect(r.exitCode).toBe(2)
    expect(r.json().error.problems).toEqual([
      {
        path: '$.type',
        code: 'no-schema',
        message: expect.stringContaining('Did you mean dv.maskin.cmd.provision?'),
      },
    ])
    expect(await cmdCount()).toBe(before)
  })

  it('--strict sends a subject whose type has a schema, with no warning', async () => {
    const r = await runCommand([
      'publish',
      'dv.maskin.cmd.provision',
      '--data',
      PROVISION,
      '--strict',
      '--server',
      server.url,
    ])
    expect(r.exitCode).toBe(0)
    expect(r.stderr).not.toContain('schema')
  })

  it('--interactive without a terminal is a usage error naming the other ways', async () => {
    const r = await publish(['dv.maskin.cmd.provision', '--interactive'])
    expect(r.exitCode).toBe(2)
    expect(r.json().error).toMatchObject({code: 'not-interactive', hint: expect.stringContaining('--data')})
  })

  it('--wait is bounded by --wait-timeout, not by --timeout (which bounds connecting and each request)', async () => {
    // No maskin worker runs here, so no task ever ends: only the wait's own bound stops it.
    const r = await runCommand([
      'publish',
      'dv.maskin.cmd.provision',
      '--data',
      PROVISION,
      '--server',
      server.url,
      '--wait',
      '--timeout',
      '1s',
      '--wait-timeout',
      '3s',
    ])
    expect(r.exitCode).toBe(9)
    expect(r.stderr).toContain('Timed out after 3s waiting for the tasks of correlation')
  })

  it('--wait-timeout without --wait is a usage error and sends nothing', async () => {
    const before = await cmdCount()
    const r = await publish(['dv.maskin.cmd.provision', '--data', PROVISION, '--wait-timeout', '1s'])
    expect(r.exitCode).toBe(2)
    expect(r.json().error.message).toContain('--wait')
    expect(await cmdCount()).toBe(before)
  })

  it('a valid subject no stream stores is exit 5, not a crash', async () => {
    const bare = await natsFixture({name: 'bare'})
    try {
      const r = await runCommand([
        'publish',
        'dv.maskin.cmd.provision',
        '--data',
        PROVISION,
        '--server',
        bare.url,
        '--json',
      ])
      expect(r.exitCode).toBe(5)
      expect(r.json().error.code).toBe('no-stream')
    } finally {
      await bare.dispose()
    }
  })
})
