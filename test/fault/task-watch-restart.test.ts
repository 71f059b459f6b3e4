// Fault: the server restarts while `task watch --until-done` follows a task. The watch must come back,
// see the rest of the lifecycle, and exit 0 once the task succeeded, with each task event exactly once
// (asserted on the NDJSON lines: envelope ids in publish order).
import {randomUUID} from 'node:crypto'

import type {NatsConnection} from '@nats-io/transport-node'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {TaskWatchLine} from '../../src/lib/tasks/watch.js'
import {natsFixture, type NatsServerHandle} from '../helpers/nats.js'
import {connectTo, ensureStreams, envelope, publish} from '../integration/workflow-seed.js'
import {startCli} from '../helpers/live-cli.js'

describe('task watch across a server restart', {timeout: 180_000}, () => {
  let server: NatsServerHandle

  beforeAll(async () => {
    server = await natsFixture({name: 'osl1'})
    const nc = await connectTo(server.url)
    await ensureStreams(nc)
    await nc.close()
  })
  afterAll(async () => server?.dispose())

  it('follows the task through a restart and exits 0 when it succeeds, each event once', async () => {
    const corr = randomUUID()
    const taskId = `task-${randomUUID().slice(0, 8)}`
    const sent: string[] = []
    const emit = async (nc: NatsConnection, verb: string, extra: Record<string, unknown> = {}) => {
      const e = envelope({
        type: `task.${verb}`,
        source: 'maskin',
        correlation_id: corr,
        subject: taskId,
        data: {task_id: taskId, state: verb, ...extra},
      })
      await publish(nc, `dv.task.evt.${verb}`, e)
      sent.push(e.id)
    }
    let nc = await connectTo(server.url)
    await emit(nc, 'created')
    await emit(nc, 'queued')

    const cli = startCli([
      'task',
      'watch',
      '--correlation',
      corr,
      '--until-done',
      '--json',
      '--wait-timeout',
      '2m',
      '--server',
      server.url,
    ])
    const ids = () =>
      cli
        .stdout()
        .map((l) => TaskWatchLine.parse(JSON.parse(l)))
        .map((l) => ('envelope' in l ? String(l.envelope.id) : 'invalid'))
    try {
      await cli.waitFor(() => ids().length >= 2, 60_000, 'history')
      await emit(nc, 'started')
      await cli.waitFor(() => ids().length >= 3, 30_000, 'live event')
      await nc.close()

      await server.stop()
      // Restarted once the watch has seen its server go (it resumes from the last message it saw).
      await cli.waitFor(() => /disconnected/.test(cli.stderr()), 30_000, 'the watch noticed the server is gone')
      await server.start()
      nc = await connectTo(server.url)
      await emit(nc, 'progress', {progress: {percent: 50, message: 'half'}})
      await emit(nc, 'succeeded')
      const code = await Promise.race([cli.exited, new Promise((r) => setTimeout(() => r('still running'), 30_000))])
      expect(code, `stdout:\n${cli.stdout().join('\n')}\nstderr:\n${cli.stderr()}`).toBe(0)
      expect(ids()).toEqual(sent)
    } finally {
      await cli.stop()
      await nc.close()
    }
  })
})
