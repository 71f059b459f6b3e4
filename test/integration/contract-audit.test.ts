import {mkdtemp, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {jetstream, jetstreamManager} from '@nats-io/jetstream'
import type {NatsConnection} from '@nats-io/transport-node'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {ContractAuditResult} from '../../src/lib/contract/audit.js'
import {TailLine} from '../../src/lib/workflow/tail.js'
import {natsFixture, type NatsServerHandle} from '../helpers/nats.js'
import {runCommand} from '../helpers/run.js'
import {connectTo, ensureStreams, envelope} from './workflow-seed.js'

// One site: sentral sends 200 commands, every tenth without correlation_id; plattform emits 100 events, all
// valid. A handful of messages breaking other rules sit on a third service's account.
describe('dvctl contract audit', {timeout: 120_000}, () => {
  let server: NatsServerHandle
  let nc: NatsConnection
  let dir: string
  let config: string
  const missing: number[] = []

  beforeAll(async () => {
    server = await natsFixture({name: 'osl1'})
    nc = await connectTo(server.url)
    await ensureStreams(nc)
    const js = jetstream(nc)
    const acks: Array<Promise<{seq: number}>> = []
    for (let i = 0; i < 200; i++) {
      const e: Record<string, unknown> = {
        ...envelope({
          type: 'nett.apply.requested',
          source: 'sentral',
          correlation_id: `wf-${i}`,
          data: {network_id: `vpc-${i}`},
        }),
      }
      if (i % 10 === 3) delete e.correlation_id
      acks.push(js.publish('dv.nett.cmd.apply', JSON.stringify(e)))
    }
    for (let i = 0; i < 100; i++) {
      const e = envelope({
        type: 'plattform.cluster.ready',
        source: 'plattform',
        correlation_id: `wf-${i}`,
        causation_id: `cause-${i}`,
        data: {cluster_id: `c-${i}`},
      })
      acks.push(js.publish('dv.plattform.evt.cluster.ready', JSON.stringify(e)))
    }
    // objekt: a local time, an event without causation, a payload breaking its schema, an unknown type.
    const objekt = (fields: Record<string, unknown>) =>
      envelope({type: 'objekt.bucket.created', source: 'objekt', correlation_id: 'wf-o', ...(fields as object)})
    acks.push(
      js.publish(
        'dv.objekt.evt.bucket.created',
        JSON.stringify(objekt({time: '2026-03-14T10:00:00+01:00', causation_id: 'c'})),
      ),
    )
    acks.push(js.publish('dv.objekt.evt.bucket.created', JSON.stringify(objekt({}))))
    acks.push(
      js.publish(
        'dv.maskin.cmd.provision',
        JSON.stringify(
          envelope({type: 'maskin.server.provision.requested', source: 'objekt', correlation_id: 'wf-o', data: {}}),
        ),
      ),
    )
    const seqs = (await Promise.all(acks)).map((a) => a.seq)
    for (let i = 0; i < 200; i++) if (i % 10 === 3) missing.push(seqs[i])

    dir = await mkdtemp(join(tmpdir(), 'dvctl-audit-'))
    config = join(dir, 'config.yaml')
    await writeFile(config, `default_site: osl1\nsites:\n  osl1: {servers: ["${server.url}"]}\n`)
  })
  afterAll(async () => {
    await nc?.close()
    await Promise.allSettled([server?.dispose(), dir && rm(dir, {recursive: true, force: true})])
  })

  const audit = (...args: string[]) =>
    runCommand(['contract', 'audit', '--site', 'osl1', ...args], {env: {DVCTL_CONFIG: config}})

  it('reports the share of each rule per service and type, and names offending messages', async () => {
    const r = await audit('--json')
    expect(r.exitCode, r.stdout + r.stderr).toBe(0)
    const result = ContractAuditResult.parse(r.json())
    expect(result.scanned).toBe(303)
    const service = (name: string) => result.services.find((s) => s.service === name)!
    expect(service('sentral')).toMatchObject({seen: 200, failing: 20, percent: 10, over: false})
    expect(service('sentral').rules.correlation).toEqual({messages: 20, percent: 10})
    expect(service('plattform')).toMatchObject({seen: 100, failing: 0, percent: 0})

    const command = result.types.find((t) => t.service === 'sentral' && t.type === 'nett.apply.requested')!
    const correlation = command.rules.correlation
    expect(correlation.codes).toEqual({'missing-correlation': 20})
    expect(correlation.first).toMatchObject({site: 'osl1', stream: 'DV_CMD', seq: missing[0]})
    expect(correlation.last).toMatchObject({site: 'osl1', stream: 'DV_CMD', seq: missing.at(-1)})
    // The rest of sentral's commands keep every other rule.
    for (const rule of ['subject', 'envelope', 'time', 'causation', 'schema', 'payload', 'size'] as const)
      expect(command.rules[rule].messages, rule).toBe(0)

    const objekt = result.types.filter((t) => t.service === 'objekt')
    const rules = (type: string) => objekt.find((t) => t.type === type)!.rules
    expect(rules('objekt.bucket.created').time.messages).toBe(1)
    expect(rules('objekt.bucket.created').causation.messages).toBe(1)
    expect(rules('objekt.bucket.created').schema.codes).toEqual({'no-schema': 2})
    expect(rules('maskin.server.provision.requested').payload.codes).toEqual({'schema-violation': 1})
  })

  it('the offending reference opens with the command it names', async () => {
    const result = ContractAuditResult.parse((await audit('--json')).json())
    const first = result.types.find((t) => t.service === 'sentral')!.rules.correlation.first!
    expect(first.open).toMatch(/^dvctl tail --site osl1 --subject dv\.nett\.cmd\.apply --from \S+ --to \S+$/)
    const tail = await runCommand([...first.open.split(' ').slice(1), '--json'], {env: {DVCTL_CONFIG: config}})
    expect(tail.exitCode, tail.stderr).toBe(0)
    const lines = tail.stdout
      .trim()
      .split('\n')
      .map((l) => TailLine.parse(JSON.parse(l)))
    const shown = lines.find((l) => l.seq === first.seq)
    expect(shown && 'invalid' in shown && shown.problems.map((p) => p.code)).toEqual(['missing-correlation'])
    // A message with a usable correlation_id opens as its workflow.
    const late = result.types.find((t) => t.type === 'objekt.bucket.created')!.rules.time.first!
    expect(late.open).toBe('dvctl workflow show wf-o --site osl1')
  })

  it('exits 10 when a service is over --fail-over, 0 under it', async () => {
    const over = await audit('--fail-over', '5', '--service', 'sentral', '--service', 'plattform')
    expect(over.exitCode, over.stderr).toBe(10)
    expect(over.stderr).toContain('sentral: 10% of 200 messages break a rule, over --fail-over 5%.')
    expect(over.stderr).not.toContain('plattform:')
    // Piped: the shares table (service rows with type *), then the offending messages, tab-separated.
    const rows = over.stdout.split('\n').map((l) => l.split('\t'))
    expect(rows).toContainEqual(['sentral', '*', '200', '10%', '-', '-', '-', '10%', '-', '-', '-', '-'])
    expect(rows).toContainEqual([
      'plattform',
      'plattform.cluster.ready',
      '100',
      '-',
      '-',
      '-',
      '-',
      '-',
      '-',
      '-',
      '-',
      '-',
    ])
    const ref = rows.find((r) => r[2] === 'correlation')!
    expect(ref.slice(0, 6)).toEqual([
      'sentral',
      'nett.apply.requested',
      'correlation',
      '20',
      'missing-correlation',
      `osl1/DV_CMD:${missing[0]}`,
    ])

    const under = await audit('--fail-over', '50', '--service', 'sentral', '--service', 'plattform', '--json')
    expect(under.exitCode, under.stderr).toBe(0)
    expect(ContractAuditResult.parse(under.json()).over).toEqual([])
    const json = await audit('--fail-over', '5', '--json')
    expect(json.exitCode).toBe(10)
    expect(ContractAuditResult.parse(json.json()).over).toEqual(['objekt', 'sentral'])
  })

  it('on an 80-column terminal the table fits, keeping the rules that were broken', async () => {
    const r = await runCommand(
      ['contract', 'audit', '--site', 'osl1', '--service', 'sentral', '--service', 'plattform'],
      {
        env: {DVCTL_CONFIG: config},
        tty: {columns: 80},
      },
    )
    expect(r.exitCode, r.stderr).toBe(0)
    const lines = r.stdout.split('\n').filter((l) => l !== '')
    for (const line of lines) expect(line.length, line).toBeLessThanOrEqual(80)
    expect(lines[0]).toMatch(/^service +type +seen +failing .*correlation/)
    expect(lines[1]).toMatch(/^plattform +\* +100 +-/)
    expect(lines).toContainEqual(expect.stringMatching(/^sentral +nett\.apply\.req\S* +200 +10% /))
  })

  it('a missing stream is reported, the others audited; a bad --fail-over is a usage error', async () => {
    const r = await audit('--stream', 'DV_CMD', '--stream', 'NOPE', '--json')
    expect(r.exitCode, r.stderr).toBe(0)
    const result = ContractAuditResult.parse(r.json())
    expect(result.sites).toEqual([{site: 'osl1', missing_streams: ['NOPE']}])
    expect(result.scanned).toBe(201)
    const bad = await audit('--fail-over', '120')
    expect(bad.exitCode).toBe(2)
    expect(bad.stderr).toContain('--fail-over')
  })

  it('reads nothing twice and leaves no consumer behind', async () => {
    const jsm = await jetstreamManager(nc)
    for (const stream of ['DV_CMD', 'DV_EVT', 'DV_TASK']) {
      const names: string[] = []
      for await (const c of jsm.consumers.list(stream)) names.push(c.name)
      expect(names, stream).toEqual([])
    }
  })
})
