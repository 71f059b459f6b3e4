import {randomUUID} from 'node:crypto'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {newEnvelope} from '../../src/lib/contract/envelope.js'

import {STREAMS} from '../../src/lib/layout/names.js'
import {connectSite, type SiteConnection} from '../../src/lib/nats/connection.js'
import {PublishResult} from '../../src/lib/publish/publish.js'
import {createWorkerConsumer, startWorker, type Worker} from '../../src/lib/sandbox/workers/index.js'
import {TaskListResult} from '../../src/lib/tasks/list.js'
import {TaskMessageLine, TaskWatchLine, watchTasks} from '../../src/lib/tasks/watch.js'
import {WorkflowResult} from '../../src/lib/workflow/read.js'
import {runCli} from '../helpers/cli.js'
import {runCommand} from '../helpers/run.js'
import {natsFixture, type NatsServerHandle} from '../helpers/nats.js'
import {waitFor} from '../helpers/wait.js'

const PROVISION = JSON.stringify({server_id: 'srv-1', profile: 'small'})

// Several CLI runs per test: generous timeouts so a loaded machine does not fail them.
describe('publish --wait, task watch and task list, with a simulated worker', {timeout: 120_000}, () => {
  let server: NatsServerHandle
  let conn: SiteConnection
  let worker: Worker

  beforeAll(async () => {
    server = await natsFixture({name: 'osl1', layout: true})
    conn = await connectSite({name: 'osl1', servers: [server.url]}, {timeoutMs: 5000})
    const consumer = await createWorkerConsumer(conn, {service: 'maskin'})
    // Tenant "doomed" fails permanently; everything else succeeds.
    worker = await startWorker(conn, {
      service: 'maskin',
      consumer,
      behaviour: (c) =>
        c.envelope.tenant_id === 'doomed' ? {fail: {code: 'no-capacity', message: 'no rack space in osl1'}} : 'succeed',
    })
  })
  afterAll(async () => {
    await worker?.stop()
    await conn?.close()
    await server?.dispose()
  })

  const cli = (args: string[]) => runCli([...args, '--server', server.url])

  // Set-up through the client library, so that each test runs the CLI only for what it tests.
  const sendCommand = async (tenant: string) => {
    const envelope = newEnvelope({
      type: 'maskin.server.provision.requested',
      source: 'sentral',
      actor: 'test',
      correlation_id: randomUUID(),
      tenant_id: tenant,
      data: JSON.parse(PROVISION),
    })
    await (await conn.js()).publish('dv.maskin.cmd.provision', JSON.stringify(envelope), {msgID: envelope.id})
    return envelope
  }
  const sendTaskEvent = async (
    verb: string,
    taskId: string,
    correlation: string,
    data: Record<string, unknown> = {},
  ) => {
    const envelope = newEnvelope({
      type: `task.${verb}`,
      source: 'nett',
      subject: taskId,
      actor: 'test',
      correlation_id: correlation,
      data: {task_id: taskId, state: verb, ...data},
    })
    await (await conn.js()).publish(`dv.task.evt.${verb}`, JSON.stringify(envelope), {msgID: envelope.id})
  }

  it('publish --wait exits 0 when the task succeeds, with the lifecycle in the result', async () => {
    const r = await cli([
      'publish',
      'dv.maskin.cmd.provision',
      '--data',
      PROVISION,
      '--tenant',
      't1',
      '--wait',
      '--wait-timeout',
      '20s',
      '--json',
    ])
    expect(r.exitCode).toBe(0)
    const result = PublishResult.parse(r.json())
    expect(result.task?.state).toBe('succeeded')
    expect(result.task?.task_id).toMatch(/^tsk-/)
    expect(result.task?.events.map((e) => e.subject)).toEqual([
      'dv.task.evt.created',
      'dv.task.evt.queued',
      'dv.task.evt.started',
      'dv.task.evt.progress',
      'dv.task.evt.progress',
      'dv.task.evt.succeeded',
    ])
    for (const e of result.task!.events) expect(e.envelope.correlation_id).toBe(result.envelope.correlation_id)

    // The same envelope again: a duplicate, nothing stored, and --wait finds the tasks it already has.
    const again = await cli([
      'publish',
      'dv.maskin.cmd.provision',
      '--data',
      PROVISION,
      '--id',
      String(result.envelope.id),
      '--wait',
      '--wait-timeout',
      '20s',
      '--json',
    ])
    expect(again.exitCode).toBe(0)
    const dup = PublishResult.parse(again.json())
    expect(dup).toMatchObject({
      duplicate: true,
      seq: result.seq,
      task: {state: 'succeeded', task_id: result.task?.task_id},
    })
  })

  it('publish --wait exits 8 on a permanent failure and prints the task error', async () => {
    const r = await cli([
      'publish',
      'dv.maskin.cmd.provision',
      '--data',
      PROVISION,
      '--tenant',
      'doomed',
      '--wait',
      '--wait-timeout',
      '20s',
    ])
    expect(r.exitCode).toBe(8)
    expect(r.stderr).toMatch(/Task tsk-\S+ failed: no-capacity: no rack space in osl1/)
    // The envelope that was sent is still the result on stdout.
    expect(JSON.parse(r.stdout)).toMatchObject({tenant_id: 'doomed'})
  })

  it('publish --wait exits 9 after --wait-timeout when no worker handles the command', async () => {
    const r = await cli([
      'publish',
      'dv.tjeneste.cmd.deploy',
      '--data',
      '{}',
      '--wait',
      '--wait-timeout',
      '1500ms',
      '--json',
    ])
    expect(r.exitCode).toBe(9)
    const result = PublishResult.parse(r.json())
    expect(result.task).toMatchObject({state: 'timeout', tasks: [], events: []})
    expect(result.seq).toBeGreaterThan(0)
  })

  it('a watch whose Ctrl-C came before it started ends at once, interrupted', async () => {
    // publish --wait: the test above aborts as soon as the command is stored, which can be before the wait begins.
    const interrupt = new AbortController()
    interrupt.abort()
    const {outcome} = await watchTasks([conn], {
      filter: {correlationId: randomUUID()},
      untilDone: true,
      live: true,
      signal: interrupt.signal,
    })
    expect(outcome).toBe('interrupted')
  })

  it('publish --wait: Ctrl-C ends the wait with exit 130, the message stays published and the result says so', async () => {
    const jsm = await conn.jsm()
    const before = (await jsm.streams.info('DV_CMD')).state.messages
    const interrupt = new AbortController()
    const running = runCommand(
      ['publish', 'dv.tjeneste.cmd.deploy', '--data', '{}', '--wait', '--json', '--server', server.url],
      {signal: interrupt.signal},
    )
    await waitFor(async () => (await jsm.streams.info('DV_CMD')).state.messages > before, {what: 'the command stored'})
    interrupt.abort()
    const r = await running
    expect(r.exitCode, r.stdout + r.stderr).toBe(130)
    const result = PublishResult.parse(r.json())
    expect(result.seq).toBe(before + 1)
    expect(result.task).toMatchObject({state: 'interrupted', tasks: []})
  })

  it('task watch --until-done --json prints the lifecycle as NDJSON in order, and flags an event after succeeded', async () => {
    const command = await sendCommand('t1')
    const first = await cli([
      'task',
      'watch',
      '--correlation',
      command.correlation_id,
      '--until-done',
      '--wait-timeout',
      '30s',
      '--json',
    ])
    expect(first.exitCode).toBe(0)
    const lines = first.lines().map((l) => TaskMessageLine.parse(l))
    expect(lines.map((l) => l.task?.state)).toEqual([
      'created',
      'queued',
      'started',
      'progress',
      'progress',
      'succeeded',
    ])
    expect(lines.map((l) => l.seq)).toEqual([...lines.map((l) => l.seq)].sort((a, b) => a - b))
    expect(lines[0]).toMatchObject({site: expect.any(String), stream: 'DV_TASK', subject: 'dv.task.evt.created'})
    const taskId = lines[0].task!.task_id

    // A progress event after succeeded: reported as an illegal transition, and the watch goes on.
    await sendTaskEvent('progress', taskId, command.correlation_id, {progress: {percent: 50}})
    const again = await cli([
      'task',
      'watch',
      '--correlation',
      command.correlation_id,
      '--until-done',
      '--wait-timeout',
      '30s',
      '--json',
    ])
    expect(again.exitCode).toBe(0)
    const last = TaskMessageLine.parse(again.lines().at(-1))
    expect(again.lines()).toHaveLength(7)
    expect(last.subject).toBe('dv.task.evt.progress')
    expect(last.task).toMatchObject({
      task_id: taskId,
      state: 'succeeded',
      previous_state: 'succeeded',
      illegal_transition: {code: 'illegal-transition'},
    })

    // For a human: one line per event on stdout, the flag as a warning on stderr, exit 0.
    const human = await cli([
      'task',
      'watch',
      '--correlation',
      command.correlation_id,
      '--until-done',
      '--wait-timeout',
      '30s',
    ])
    expect(human.exitCode).toBe(0)
    expect(human.stdout.trim().split('\n')).toHaveLength(7)
    expect(human.stderr).toContain(`illegal transition: task ${taskId}`)
  })

  it('task watch --until-done exits 8 when a task failed, and 9 on timeout while tasks still run', async () => {
    const failed = await sendCommand('doomed')
    const r = await cli([
      'task',
      'watch',
      '--correlation',
      failed.correlation_id,
      '--until-done',
      '--wait-timeout',
      '30s',
    ])
    expect(r.exitCode).toBe(8)
    expect(r.stderr).toContain('no-capacity: no rack space in osl1')

    // A task that started and never finished.
    await sendTaskEvent('started', 'tsk-stuck', 'wf-stuck')
    const t = await cli([
      'task',
      'watch',
      '--correlation',
      'wf-stuck',
      '--until-done',
      '--wait-timeout',
      '1s',
      '--json',
    ])
    expect(t.exitCode).toBe(9)
    expect(t.lines().map((l) => TaskWatchLine.parse(l))).toHaveLength(1)
  })

  it('task watch shows a malformed message on DV_TASK as invalid and keeps going', async () => {
    const js = await conn.js()
    await js.publish('dv.task.evt.progress', 'not json at all wf-garbled')
    await sendTaskEvent('succeeded', 'tsk-g', 'wf-garbled')
    const r = await cli([
      'task',
      'watch',
      '--correlation',
      'wf-garbled',
      '--until-done',
      '--wait-timeout',
      '30s',
      '--json',
    ])
    expect(r.exitCode).toBe(0)
    const lines = r.lines().map((l) => TaskWatchLine.parse(l))
    expect(lines[0]).toMatchObject({
      invalid: true,
      stream: STREAMS.task,
      problems: [{code: 'not-json'}],
      raw: 'not json at all wf-garbled',
    })
    expect(lines[1]).toMatchObject({subject: 'dv.task.evt.succeeded', task: {task_id: 'tsk-g', state: 'succeeded'}})
  })

  it('task watch, task list and workflow show agree: started after progress leaves the task at progress', async () => {
    const correlation = `wf-order-${randomUUID()}`
    const taskId = `tsk-order-${randomUUID()}`
    for (const verb of ['created', 'progress', 'started']) await sendTaskEvent(verb, taskId, correlation)

    // Still running: --until-done ends on --wait-timeout (9) after printing the history.
    const watch = await cli([
      'task',
      'watch',
      '--correlation',
      correlation,
      '--until-done',
      '--wait-timeout',
      '2s',
      '--json',
    ])
    expect(watch.exitCode, watch.stderr).toBe(9)
    const lines = watch.lines().map((l) => TaskMessageLine.parse(l))
    expect(lines.map((l) => [l.subject, l.task?.state, l.task?.illegal_transition?.code])).toEqual([
      ['dv.task.evt.created', 'created', undefined],
      ['dv.task.evt.progress', 'progress', undefined],
      ['dv.task.evt.started', 'progress', 'illegal-transition'],
    ])

    const list = await cli(['task', 'list', '--correlation', correlation, '--json'])
    expect(list.exitCode, list.stderr).toBe(0)
    expect(TaskListResult.parse(list.json()).tasks.map((t) => [t.task_id, t.state, t.illegal_transitions])).toEqual([
      [taskId, 'progress', 1],
    ])

    const workflow = await cli(['workflow', 'show', correlation, '--json'])
    expect(workflow.exitCode, workflow.stderr).toBe(0)
    const result = WorkflowResult.parse(workflow.json())
    expect(result.messages).toHaveLength(3)
    expect(result.tasks.map((t) => [t.task_id, t.state])).toEqual([[taskId, 'progress']])
    expect(result.status).toBe('running')
  })

  it('task list gives the latest state of each task, filtered by state', async () => {
    // Its own tasks (the file's other tests are not relied on): one the worker fails, one started and
    // never finished, one that succeeded.
    const doomed = await sendCommand('doomed')
    const stuck = `tsk-stuck-${randomUUID()}`
    const finished = `tsk-done-${randomUUID()}`
    await sendTaskEvent('started', stuck, `wf-${stuck}`)
    await sendTaskEvent('succeeded', finished, `wf-${finished}`)
    const jsm = await conn.jsm()
    await waitFor(
      async () => {
        const last = await jsm.streams.getMessage(STREAMS.task, {last_by_subj: 'dv.task.evt.failed'})
        return Boolean(last) && JSON.parse(last!.string()).correlation_id === doomed.correlation_id
      },
      {what: 'the worker failed the doomed command'},
    )

    const r = await cli(['task', 'list', '--state', 'failed', '--json'])
    expect(r.exitCode, r.stdout + r.stderr).toBe(0)
    const result = TaskListResult.parse(r.json())
    for (const t of result.tasks) expect(t.state).toBe('failed')
    expect(result.tasks.find((t) => t.correlation_id === doomed.correlation_id)).toMatchObject({
      service: 'maskin',
      tenant_id: 'doomed',
      error: {code: 'no-capacity', retryable: false},
    })
    expect(result.tasks.map((t) => t.task_id)).not.toContain(stuck)

    const human = await cli(['task', 'list', '--state', 'started'])
    expect(human.exitCode, human.stderr).toBe(0)
    expect(human.stdout).toContain(stuck)
    expect(human.stdout).not.toContain(finished)
  })
})
