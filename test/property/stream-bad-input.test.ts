// Bad input in the streams that dvctl reads (issue 9, item 3): DV_CMD, DV_EVT, DV_TASK and DV_DLQ filled
// with many generated bad messages (random bytes, invalid UTF-8, JSON that is not an envelope, envelopes
// with every field wrong, 10,000-deep nesting, a 600 KiB body, forged advisories, a real dead letter whose
// original is garbage) between a few good ones. One run of each reader over all of it: `tail`,
// `workflow show`, `task watch`, `task list` and `dlq list` must never crash, must account for every bad
// message as an invalid line or a problem, and must still show the good ones.
import {randomUUID} from 'node:crypto'

import fc from 'fast-check'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {DlqListResult} from '../../src/lib/dlq/model.js'
import {DLQ_ADVISORY_SUBJECTS, STREAMS} from '../../src/lib/layout/names.js'
import {connectSite, type SiteConnection} from '../../src/lib/nats/connection.js'
import {TaskListResult} from '../../src/lib/tasks/list.js'
import {TaskWatchLine} from '../../src/lib/tasks/watch.js'
import {WorkflowResult} from '../../src/lib/workflow/read.js'
import {TailLine} from '../../src/lib/workflow/tail.js'
import type {CliResult} from '../helpers/cli.js'
import {runCommand} from '../helpers/run.js'
import {waitFor} from '../helpers/wait.js'
import {natsFixture, type NatsServerHandle} from '../helpers/nats.js'

const enc = new TextEncoder()
const CORR = randomUUID()
const PER_STREAM = 40

/** Bad bodies; every one carries CORR somewhere in its bytes so that the correlation pre-filter lets it in. */
function badBodies(seed: number): Uint8Array[] {
  const wrong = fc.oneof(fc.constant(null), fc.integer(), fc.boolean(), fc.constant([]), fc.constant({}))
  const generated = fc.sample(
    fc.oneof(
      fc.uint8Array({minLength: 1, maxLength: 120}).map((b) => Uint8Array.from([...b, ...enc.encode(CORR)])),
      fc
        .tuple(fc.uint8Array({max: 0x7f, maxLength: 20}), fc.constantFrom([0xff], [0xc0, 0xaf], [0xed, 0xa0, 0x80]))
        .map(([a, bad]) => Uint8Array.from([...a, ...enc.encode(CORR), ...bad])),
      fc.jsonValue({maxDepth: 3}).map((v) => enc.encode(JSON.stringify([v, CORR]))),
      fc
        .record({
          specversion: wrong,
          id: wrong,
          type: wrong,
          source: wrong,
          time: wrong,
          actor: wrong,
          data: fc.oneof(fc.constant(null), fc.integer(), fc.string({maxLength: 4})),
        })
        .map((r) => enc.encode(JSON.stringify({...r, correlation_id: CORR}))),
    ),
    {numRuns: PER_STREAM - 2, seed},
  )
  return [
    ...generated,
    enc.encode(`{"correlation_id":"${CORR}","x":${'['.repeat(10_000)}${']'.repeat(10_000)}}`),
    enc.encode(JSON.stringify({correlation_id: CORR, blob: 'A'.repeat(600 * 1024)})),
  ]
}

function good(type: string, source: string, extra: Record<string, unknown> = {}) {
  return {
    specversion: '1.0',
    id: randomUUID(),
    type,
    source,
    time: new Date().toISOString(),
    actor: 'user:test',
    correlation_id: CORR,
    data: {},
    ...extra,
  }
}

let server: NatsServerHandle
let conn: SiteConnection
const goodIds: string[] = []
let badCount = 0
let badTask = 0
let poisonSeq = 0

const cli = (...args: string[]): Promise<CliResult> =>
  runCommand([...args, '--server', server.url, ...(args.includes('--timeout') ? [] : ['--timeout', '10s'])], {
    timeoutMs: 120_000,
  })

/** The one promise of every reader: finished on its own terms, no crash, no stack. */
function expectNoCrash(r: CliResult, what: string, codes = [0]) {
  expect(codes, `${what}: exit ${r.exitCode}\n${r.stderr.slice(0, 2000)}`).toContain(r.exitCode)
  expect(r.stdout + r.stderr, what).not.toMatch(/Unexpected error|This is a bug|\n\s+at .+:\d+:\d+/)
}

beforeAll(async () => {
  server = await natsFixture({name: 'osl1', layout: true})
  conn = await connectSite({name: 'osl1', servers: [server.url]}, {timeoutMs: 10_000})
  const js = await conn.js()
  const jsm = await conn.jsm()
  // max_payload is 1 MiB by default: the 600 KiB body fits, so it is stored and must be read back.
  const targets: Array<[string, number]> = [
    ['dv.maskin.cmd.provision', 1],
    ['dv.maskin.evt.server.provisioned', 2],
    ['dv.task.evt.started', 3],
  ]
  for (const [subject, seed] of targets) {
    const bodies = badBodies(seed)
    for (const [i, body] of bodies.entries()) {
      // Odd but captured subjects too (a service outside the taxonomy on DV_CMD, an unknown task verb).
      const odd = subject.replace('maskin.cmd', 'nosuch.cmd').replace('task.evt.started', 'task.evt.nosuchverb')
      const s = i % 7 === 0 ? odd : subject
      await js.publish(s, body)
    }
    badCount += bodies.length
    if (subject.startsWith('dv.task')) badTask = bodies.length
  }
  // Good messages of the same workflow, so that every reader also has something real to show.
  const cmd = good('maskin.server.provision.requested', 'sentral', {data: {server_id: 'srv-1', profile: 'small'}})
  const started = good('task.started', 'maskin', {
    subject: 'task-1',
    causation_id: cmd.id,
    data: {task_id: 'task-1', state: 'started'},
  })
  await js.publish('dv.maskin.cmd.provision', JSON.stringify(cmd))
  await js.publish('dv.task.evt.started', JSON.stringify(started))
  goodIds.push(cmd.id, started.id)

  // DV_DLQ: forged advisories (garbage, wrong fields, pointing nowhere) and one real dead letter of a garbage command.
  const advisorySubject = DLQ_ADVISORY_SUBJECTS[0].replace('>', 'DV_CMD.maskin')
  for (const body of [
    ...fc.sample(fc.uint8Array({maxLength: 80}), {numRuns: 5, seed: 9}),
    enc.encode('{"type":"io.nats.jetstream.advisory.v1.max_deliver","stream":7,"stream_seq":"x"}'),
    enc.encode(
      '{"type":"io.nats.jetstream.advisory.v1.max_deliver","stream":"DV_CMD","consumer":"maskin","stream_seq":999999,"deliveries":5}',
    ),
    Uint8Array.from([0xff, 0xfe]),
  ]) {
    await conn.nc.request(advisorySubject, body, {timeout: 5000}).catch(() => undefined)
  }
  await jsm.consumers.add(STREAMS.cmd, {
    durable_name: 'poison',
    filter_subject: 'dv.maskin.cmd.>',
    ack_policy: 'explicit' as never,
  })
  const poison = await js.consumers.get(STREAMS.cmd, 'poison')
  const advisories = async () => (await jsm.streams.info(STREAMS.dlq)).state.messages
  const before = await advisories()
  const first = await poison.next({expires: 5000})
  first?.term()
  poisonSeq = first?.seq ?? 0
  // The server publishes the terminated advisory just after the term: DV_DLQ holds it once it is captured.
  await waitFor(async () => (await advisories()) > before, {what: "the poison command's advisory in DV_DLQ"})
}, 120_000)

afterAll(async () => {
  await conn?.close()
  await server?.dispose()
})

describe('stream readers over generated bad messages', {timeout: 180_000}, () => {
  it('tail shows every bad message as an invalid line and the good ones as messages', async () => {
    const r = await cli('tail', '--since', '1h', '--json')
    expectNoCrash(r, 'tail')
    const lines = r.lines().map((l) => TailLine.parse(l))
    const invalid = lines.filter((l) => 'invalid' in l && l.invalid)
    expect(invalid.length).toBe(badCount)
    for (const l of invalid) expect('problems' in l && l.problems.length).toBeGreaterThan(0)
    const shown = lines.flatMap((l) => ('envelope' in l ? [String(l.envelope.id)] : []))
    expect(shown).toEqual(expect.arrayContaining(goodIds))
    const human = await cli('tail', '--since', '1h')
    expectNoCrash(human, 'tail (text)')
    expect(human.stdout.split('\n').filter((l) => l.includes('INVALID')).length).toBe(badCount)
  })

  it('workflow show keeps the good messages of the correlation and does not crash on the rest', async () => {
    const r = await cli('workflow', 'show', CORR, '--json')
    expectNoCrash(r, 'workflow show')
    const result = WorkflowResult.parse(r.json())
    expect(result.messages.map((m) => m.id)).toEqual(expect.arrayContaining(goodIds))
    const text = await cli('workflow', 'show', CORR, '--view', 'timeline')
    expectNoCrash(text, 'workflow show (timeline)')
  })

  it('task watch and task list report the bad task events as invalid and keep the good task', async () => {
    const r = await cli('task', 'watch', '--since', '1h', '--json', '--until-done', '--wait-timeout', '3s')
    // The good task never finishes: the watch ends by its timeout (9), having read everything.
    expectNoCrash(r, 'task watch', [9])
    const lines = r.lines().map((l) => TaskWatchLine.parse(l))
    expect(lines.filter((l) => 'invalid' in l).length).toBe(badTask)
    expect(lines.flatMap((l) => ('envelope' in l ? [String(l.envelope.id)] : []))).toContain(goodIds[1])
    const list = await cli('task', 'list', '--since', '1h', '--json')
    expectNoCrash(list, 'task list')
    expect(TaskListResult.parse(list.json()).tasks.map((t) => t.task_id)).toContain('task-1')
  })

  it('dlq list survives forged advisories and lists the real dead letter of a garbage command', async () => {
    const r = await cli('dlq', 'list', '--status', 'all', '--json')
    expectNoCrash(r, 'dlq list')
    const result = DlqListResult.parse(r.json())
    const poisoned = result.dead_letters.find((d) => d.ref === `DV_CMD:${poisonSeq}`)
    expect(poisoned).toBeDefined()
    // Its original is garbage: listed all the same, with what could not be read left empty.
    expect(poisoned!.subject).toMatch(/^dv\.maskin\.cmd\./)
    const grouped = await cli('dlq', 'list', '--status', 'all', '--group-by', 'type')
    expectNoCrash(grouped, 'dlq list --group-by')
  })
})
