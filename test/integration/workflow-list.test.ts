import {randomUUID} from 'node:crypto'
import {mkdtemp, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {jetstream} from '@nats-io/jetstream'
import type {NatsConnection} from '@nats-io/transport-node'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {freePort} from '../../src/lib/sandbox/nats-server.js'
import {WorkflowCountResult, WorkflowListResult} from '../../src/lib/workflow/list.js'
import {WorkflowResult} from '../../src/lib/workflow/read.js'
import {runCommand} from '../helpers/run.js'
import {natsFixture, type NatsServerHandle} from '../helpers/nats.js'
import {connectTo, ensureStreams, type Envelope} from './workflow-seed.js'

type Kind = 'succeeded' | 'running' | 'failed' | 'dead-lettered' | 'stalled'

/** 1,000 workflows: 580 succeeded, 20 running, 398 failed, one dead-lettered, one stalled. */
function kindOf(i: number): Kind {
  if (i === 998) return 'dead-lettered'
  if (i === 999) return 'stalled'
  if (i >= 600) return 'failed'
  return i >= 580 ? 'running' : 'succeeded'
}

const WORKFLOWS = 1000
const TENANTS = ['acme', 'globex']

interface Seeded {
  byKind: Record<Kind, string[]>
  /** Odd workflows: the command on osl1, its task events on trd1. */
  crossSite: string[]
}

/**
 * Seeds the workflows with pipelined publishes (up to 500 acks in flight per site). Each: a command
 * (`dv.maskin.cmd.provision` or `dv.nett.cmd.apply`), then its task's lifecycle. Envelope times are in the
 * last half hour, except the stalled workflow's `started`, two hours ago. The dead-lettered workflow's
 * command gets a max_deliveries advisory in its site's DV_DLQ.
 */
async function seed(a: NatsConnection, b: NatsConnection): Promise<Seeded> {
  const js = {osl1: jetstream(a), trd1: jetstream(b)}
  const pending: Array<Promise<unknown>> = []
  const send = async (site: 'osl1' | 'trd1', subject: string, body: Envelope) => {
    const ack = js[site].publish(subject, JSON.stringify(body))
    pending.push(ack)
    if (pending.length >= 500) await Promise.all(pending.splice(0))
    return ack
  }
  const now = Date.now()
  const byKind: Seeded['byKind'] = {succeeded: [], running: [], failed: [], 'dead-lettered': [], stalled: []}
  const crossSite: string[] = []
  let deadLetter: {site: 'osl1' | 'trd1'; ack: Promise<{seq: number}>} | undefined
  for (let i = 0; i < WORKFLOWS; i++) {
    const kind = kindOf(i)
    const correlation = randomUUID()
    byKind[kind].push(correlation)
    const home = i % 2 === 0 ? 'osl1' : 'trd1'
    const taskSite = i % 2 === 0 ? home : 'osl1'
    if (i % 2 === 1) crossSite.push(correlation)
    const service = i % 3 === 0 ? 'nett' : 'maskin'
    const at = (offsetMs: number) => new Date(now - 30 * 60_000 + i * 1000 + offsetMs).toISOString()
    const command: Envelope = {
      specversion: '1.0',
      id: randomUUID(),
      type: service === 'nett' ? 'nett.network.apply.requested' : 'maskin.server.provision.requested',
      source: 'sentral',
      time: at(0),
      actor: 'user:test',
      correlation_id: correlation,
      tenant_id: TENANTS[i % 2],
      data: {},
    }
    const ack = send(home, service === 'nett' ? 'dv.nett.cmd.apply' : 'dv.maskin.cmd.provision', command)
    if (kind === 'dead-lettered') deadLetter = {site: home, ack}
    const taskId = `task-${correlation.slice(0, 8)}`
    const verbs =
      kind === 'succeeded'
        ? ['created', 'started', 'succeeded']
        : kind === 'failed'
          ? ['created', 'started', 'failed']
          : kind === 'dead-lettered'
            ? ['created']
            : ['created', 'started']
    verbs.forEach((verb, n) => {
      const time = kind === 'stalled' && verb === 'started' ? new Date(now - 2 * 3_600_000).toISOString() : at(n + 1)
      void send(taskSite, `dv.task.evt.${verb}`, {
        specversion: '1.0',
        id: randomUUID(),
        type: `task.${verb}`,
        source: service,
        time,
        actor: 'user:test',
        correlation_id: correlation,
        causation_id: command.id,
        subject: taskId,
        tenant_id: TENANTS[i % 2],
        data: {task_id: taskId, state: verb},
      })
    })
  }
  await Promise.all(pending)
  const {site, ack} = deadLetter!
  await js[site].publish(
    '$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.DV_CMD.maskin',
    JSON.stringify({
      type: 'io.nats.jetstream.advisory.v1.max_deliver',
      id: randomUUID(),
      timestamp: new Date().toISOString(),
      stream: 'DV_CMD',
      consumer: 'maskin',
      stream_seq: (await ack).seq,
      deliveries: 5,
      domain: site,
    }),
  )
  // Not workflows: skipped, never a crash.
  await js.osl1.publish('dv.maskin.cmd.provision', 'not json')
  await js.trd1.publish('dv.task.evt.started', JSON.stringify({id: 'x', data: {}}))
  return {byKind, crossSite}
}

// Upper bounds only: on an idle machine the whole file takes a few seconds.
describe('workflow list and count over 1,000 workflows on two sites', {timeout: 120_000}, () => {
  let osl1: NatsServerHandle
  let trd1: NatsServerHandle
  let a: NatsConnection
  let b: NatsConnection
  let seeded: Seeded
  let dir: string
  let config: string
  const run = (argv: string[], cfg = config) => runCommand(argv, {env: {DVCTL_CONFIG: cfg}})
  const list = async (...argv: string[]) => {
    const r = await run(['workflow', 'list', '--all-sites', '--stalled-after', '1h', '--json', ...argv])
    expect(r.exitCode, r.stderr).toBe(0)
    return WorkflowListResult.parse(r.json())
  }

  beforeAll(async () => {
    ;[osl1, trd1] = await Promise.all([natsFixture({name: 'osl1'}), natsFixture({name: 'trd1'})])
    ;[a, b] = await Promise.all([connectTo(osl1.url), connectTo(trd1.url)])
    await Promise.all([ensureStreams(a), ensureStreams(b)])
    seeded = await seed(a, b)
    dir = await mkdtemp(join(tmpdir(), 'dvctl-wf-list-'))
    config = join(dir, 'config.yaml')
    await writeFile(
      config,
      `default_site: osl1\nsites:\n  osl1: {servers: ["${osl1.url}"], js_domain: osl1}\n  trd1: {servers: ["${trd1.url}"], js_domain: trd1}\n`,
    )
  })
  afterAll(async () => {
    await Promise.allSettled([a?.close(), b?.close()])
    await Promise.allSettled([osl1?.dispose(), trd1?.dispose(), dir && rm(dir, {recursive: true, force: true})])
  })

  it('--status failed lists exactly the failed workflows, each across the sites it touched', async () => {
    const result = await list('--status', 'failed')
    const ids = result.workflows.map((w) => w.correlation_id)
    expect(ids.sort()).toEqual([...seeded.byKind.failed].sort())
    expect(result.total).toBe(seeded.byKind.failed.length)
    expect(result.seen).toBe(WORKFLOWS)
    expect(result.truncated).toBeNull()
    const cross = result.workflows.find((w) => seeded.crossSite.includes(w.correlation_id))!
    expect(cross).toMatchObject({status: 'failed', sites: ['osl1', 'trd1'], tasks: {failed: 1}, messages: 4})
    expect(cross.root?.type).toMatch(/\.requested$/)
    expect(cross.root?.site).toBe('trd1')
  })

  it('count --group-by status adds up to 1,000, one group per status', async () => {
    const r = await run(['workflow', 'count', '--all-sites', '--stalled-after', '1h', '--group-by', 'status', '--json'])
    expect(r.exitCode, r.stderr).toBe(0)
    const result = WorkflowCountResult.parse(r.json())
    expect(result.total).toBe(WORKFLOWS)
    expect(result.groups.reduce((n, g) => n + g.count, 0)).toBe(WORKFLOWS)
    expect(Object.fromEntries(result.groups.map((g) => [g.key, g.count]))).toEqual({
      succeeded: 580,
      failed: 398,
      running: 20,
      stalled: 1,
      'dead-lettered': 1,
    })
  })

  it('--status stalled finds the stalled workflow; dead_lettered the dead-lettered one', async () => {
    const stalled = await list('--status', 'stalled')
    expect(stalled.workflows.map((w) => w.correlation_id)).toEqual(seeded.byKind.stalled)
    expect(Date.parse(stalled.workflows[0].stalled_since!)).toBeLessThan(Date.now() - 3_600_000)
    const dead = await list('--status', 'dead_lettered')
    expect(dead.workflows.map((w) => w.correlation_id)).toEqual(seeded.byKind['dead-lettered'])
    expect(dead.workflows[0]).toMatchObject({status: 'dead-lettered', dead_letters: 1})
    // A longer threshold: the stalled workflow is only running.
    const later = await run([
      'workflow',
      'count',
      '--all-sites',
      '--stalled-after',
      '3h',
      '--status',
      'stalled',
      '--json',
    ])
    expect(WorkflowCountResult.parse(later.json()).total).toBe(0)
  })

  it('agrees with workflow show on status and task states', async () => {
    for (const id of [seeded.byKind.failed[1], seeded.byKind['dead-lettered'][0], seeded.byKind.succeeded[3]]) {
      const show = await run(['workflow', 'show', id, '--all-sites', '--json'])
      expect(show.exitCode, show.stderr).toBe(0)
      const shown = WorkflowResult.parse(show.json())
      const [listed] = (await list('--type', shown.messages[0].type!)).workflows.filter((w) => w.correlation_id === id)
      expect(listed.status).toBe(shown.status)
      const states: Record<string, number> = {}
      for (const t of shown.tasks) states[t.state] = (states[t.state] ?? 0) + 1
      expect(listed.tasks).toEqual(states)
      expect(listed.dead_letters).toBe(shown.dead_letters.length)
    }
  })

  it('filters by tenant, service and type, and groups by tenant and service', async () => {
    const acme = await run(['workflow', 'count', '--all-sites', '--group-by', 'tenant', '--json'])
    expect(WorkflowCountResult.parse(acme.json()).groups).toEqual([
      {key: 'acme', count: 500},
      {key: 'globex', count: 500},
    ])
    const services = WorkflowCountResult.parse(
      (await run(['workflow', 'count', '--all-sites', '--group-by', 'service', '--json'])).json(),
    )
    expect(services.groups).toEqual([
      {key: 'maskin', count: 666},
      {key: 'nett', count: 334},
    ])
    const nett = await list('--service', 'nett', '--tenant', 'acme', '--status', 'failed')
    expect(nett.workflows.length).toBeGreaterThan(0)
    for (const w of nett.workflows) {
      expect(w.tenant_id).toBe('acme')
      expect(w.services).toContain('nett')
    }
    const typed = await list('--type', 'nett.*')
    expect(typed.total).toBe(334)
  })

  it('prints one tab-separated line per workflow when piped, in --sort order, cut by --limit', async () => {
    const r = await run(['workflow', 'list', '--all-sites', '--status', 'failed', '--sort', '-first', '--limit', '3'])
    expect(r.exitCode, r.stderr).toBe(0)
    const lines = r.stdout.trimEnd().split('\n')
    expect(lines).toHaveLength(3)
    const cells = lines.map((l) => l.split('\t'))
    expect(cells[0]).toHaveLength(11)
    expect(cells.map((c) => c[1])).toEqual(['failed', 'failed', 'failed'])
    // Newest first: the last three failed workflows seeded.
    expect(cells.map((c) => c[0])).toEqual(seeded.byKind.failed.slice(-3).reverse())
    const bad = await run(['workflow', 'list', '--sort', 'nope'])
    expect(bad.exitCode).toBe(2)
  })

  it('fits the table to a terminal: a header, the columns that matter, one line per workflow', async () => {
    const r = await runCommand(
      ['workflow', 'list', '--all-sites', '--stalled-after', '1h', '--status', 'stalled', '--status', 'dead_lettered'],
      {
        env: {DVCTL_CONFIG: config},
        tty: {columns: 80},
      },
    )
    expect(r.exitCode, r.stderr).toBe(0)
    const lines = r.stdout.trimEnd().split('\n')
    expect(lines).toHaveLength(3)
    expect(lines[0]).toMatch(/^correlation\s+status\s+root\s+.*first\s+last\s+.*tasks\s+dead/)
    for (const line of lines) expect(line.length).toBeLessThanOrEqual(80)
    expect(lines.find((l) => l.includes('stalled'))).toMatch(/1 started/)
    expect(lines.find((l) => l.includes('dead-lettered'))).toMatch(/1 created\s+1$/)
    expect(r.stderr).toContain('2 workflow(s); 1000 in the window')
    const count = await runCommand(['workflow', 'count', '--all-sites', '--group-by', 'tenant'], {
      env: {DVCTL_CONFIG: config},
      tty: {columns: 80},
    })
    expect(count.stdout.trimEnd().split('\n')).toEqual([
      expect.stringMatching(/^tenant\s+count$/),
      expect.stringMatching(/^acme\s+500$/),
      expect.stringMatching(/^globex\s+500$/),
    ])
  })

  it('reads the sites it can reach and warns about the other', async () => {
    const half = join(dir, 'half.yaml')
    await writeFile(
      half,
      `default_site: osl1\nsites:\n  osl1: {servers: ["${osl1.url}"], js_domain: osl1}\n  trd1: {servers: ["nats://127.0.0.1:${await freePort()}"], js_domain: trd1}\n`,
    )
    const r = await run(['workflow', 'count', '--all-sites', '--json', '--timeout', '2s'], half)
    expect(r.exitCode, r.stderr).toBe(0)
    expect(r.stderr).toMatch(/Warning: .*trd1.*connection refused/)
    const result = WorkflowCountResult.parse(r.json())
    expect(result.sites.find((s) => s.site === 'trd1')?.error).toBeTruthy()
    // osl1 holds the even workflows whole and the odd ones' task events.
    expect(result.total).toBe(WORKFLOWS)
  })

  it('caps the workflows it tracks with a warning', async () => {
    const r = await run(['workflow', 'count', '--all-sites', '--max-workflows', '10', '--json'])
    expect(r.exitCode, r.stderr).toBe(0)
    const result = WorkflowCountResult.parse(r.json())
    expect(result.total).toBe(10)
    expect(result.truncated?.max_workflows).toBe(10)
    expect(result.truncated!.untracked_messages).toBeGreaterThan(0)
    expect(r.stderr).toContain('stopped tracking new workflows at 10 (--max-workflows)')
  })
})
