// Ids by prefix (issue 15): the 8-character correlation and task ids that `tail` prints are accepted wherever
// a full one is; an ambiguous prefix lists its candidates (exit 2).
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {STREAMS} from '../../src/lib/layout/names.js'
import {WorkflowResult} from '../../src/lib/workflow/read.js'
import {natsFixture, type NatsServerHandle} from '../helpers/nats.js'
import {runCommand} from '../helpers/run.js'
import {connectTo, envelope, ensureStreams, publish} from './workflow-seed.js'

const ONE = '5f0c7d3e-8a1b-4c2d-9e3f-0a1b2c3d4e5f'
const TWIN_A = 'aaaaaa11-8a1b-4c2d-9e3f-0a1b2c3d4e5f'
const TWIN_B = 'aaaaaa22-8a1b-4c2d-9e3f-0a1b2c3d4e5f'
const TASK = 'tsk-7c1e2d3f-aaaa-bbbb'
// An id from a stored message is untrusted: it may carry a terminal escape.
const HOSTILE = 'cccccc\u001b[2J\u001b]0;owned\u0007'

describe('ids by unique prefix', {timeout: 60_000}, () => {
  let server: NatsServerHandle

  beforeAll(async () => {
    server = await natsFixture({name: 'osl1'})
    const nc = await connectTo(server.url)
    await ensureStreams(nc)
    for (const correlation_id of [ONE, TWIN_A, TWIN_B, HOSTILE, 'cccccc-plain']) {
      await publish(
        nc,
        'dv.maskin.cmd.provision',
        envelope({type: 'maskin.server.provision.requested', source: 'sentral', correlation_id}),
      )
    }
    for (const verb of ['created', 'succeeded']) {
      await publish(
        nc,
        `dv.task.evt.${verb}`,
        envelope({
          type: `task.${verb}`,
          source: 'maskin',
          correlation_id: ONE,
          subject: TASK,
          data: {task_id: TASK, state: verb},
        }),
      )
    }
    await nc.close()
  })
  afterAll(async () => server?.dispose())

  const cli = (...args: string[]) => runCommand([...args, '--server', server.url])

  it('workflow show <8-char prefix> shows the workflow', async () => {
    const r = await cli('workflow', 'show', ONE.slice(0, 8), '--json')
    expect(r.exitCode, r.stdout + r.stderr).toBe(0)
    const wf = WorkflowResult.parse(r.json())
    expect(wf.correlation_id).toBe(ONE)
    expect(wf.messages.map((m) => m.stream).sort()).toEqual([STREAMS.cmd, STREAMS.task, STREAMS.task])
  })

  it('an ambiguous prefix lists the candidates and exits 2', async () => {
    const r = await cli('workflow', 'show', 'aaaaaa', '--json')
    expect(r.exitCode).toBe(2)
    expect(r.json().error).toMatchObject({code: 'ambiguous-id'})
    expect(r.json().error.message).toContain(TWIN_A)
    expect(r.json().error.message).toContain(TWIN_B)
  })

  it('task watch --correlation <prefix> --until-done ends when the task is done', async () => {
    const r = await cli(
      'task',
      'watch',
      '--correlation',
      ONE.slice(0, 8),
      '--until-done',
      '--wait-timeout',
      '20s',
      '--json',
    )
    expect(r.exitCode, r.stdout + r.stderr).toBe(0)
    expect(r.lines().map((l) => l.subject)).toEqual(['dv.task.evt.created', 'dv.task.evt.succeeded'])
  })

  it('task list --task <prefix> and tail --correlation <prefix> find theirs', async () => {
    const list = await cli('task', 'list', '--task', TASK.slice(0, 12), '--json')
    expect(list.exitCode, list.stdout + list.stderr).toBe(0)
    expect(list.json().tasks.map((t: {task_id: string}) => t.task_id)).toEqual([TASK])
    const tail = await cli('tail', '--correlation', ONE.slice(0, 8), '--since', '1h', '--json')
    expect(tail.exitCode).toBe(0)
    // The command of the test is not a valid provisioning (no data), so it comes as an invalid line: its raw text.
    const lines = tail.lines()
    expect(lines).toHaveLength(3)
    for (const l of lines) expect(l.envelope?.correlation_id ?? JSON.parse(l.raw).correlation_id).toBe(ONE)
  })

  it('candidates from stored messages are listed sanitised, never as raw escapes', async () => {
    const r = await cli('workflow', 'show', 'cccccc')
    expect(r.exitCode).toBe(2)
    expect(r.stderr).toContain('cccccc-plain')
    expect(r.stderr).not.toContain('\u001b')
    expect(r.stderr).not.toContain('\u0007')
  })

  it('a prefix that matches nothing is not found (exit 5), in the command’s own words', async () => {
    const r = await cli('workflow', 'show', 'ffffffff', '--json')
    expect(r.exitCode).toBe(5)
    expect(r.json().error.code).toBe('workflow-not-found')
  })
})
