import {mkdtemp, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {connectSite, type SiteConnection} from '../../src/lib/nats/connection.js'
import {PublishResult} from '../../src/lib/publish/publish.js'
import {freePort} from '../../src/lib/sandbox/nats-server.js'
import {createWorkerConsumer, startWorker, type Worker} from '../../src/lib/sandbox/workers/index.js'
import {TaskListResult} from '../../src/lib/tasks/list.js'
import {TaskMessageLine} from '../../src/lib/tasks/watch.js'
import {runCommand} from '../helpers/run.js'
import {natsFixture, type NatsServerHandle} from '../helpers/nats.js'

describe('task watch over several sites', {timeout: 90_000}, () => {
  const servers: NatsServerHandle[] = []
  const conns: SiteConnection[] = []
  const workers: Worker[] = []
  let dir: string
  let env: NodeJS.ProcessEnv

  beforeAll(async () => {
    for (const name of ['osl1', 'trd1']) {
      const server = await natsFixture({name, layout: true})
      servers.push(server)
      const conn = await connectSite({name, servers: [server.url]}, {timeoutMs: 5000})
      conns.push(conn)
      const consumer = await createWorkerConsumer(conn, {service: 'maskin'})
      // trd1 has no rack space: its maskin worker fails every command.
      workers.push(
        await startWorker(conn, {service: 'maskin', consumer, behaviour: name === 'trd1' ? 'fail' : 'succeed'}),
      )
    }
    // A reachable site without the standard layout: no DV_TASK to read.
    servers.push(await natsFixture({name: 'sto1'}))
    dir = await mkdtemp(join(tmpdir(), 'dvctl-h4-sites-'))
    const config = join(dir, 'config.yaml')
    const dead = `nats://127.0.0.1:${await freePort()}`
    await writeFile(
      config,
      [
        'default_site: osl1',
        'actor: ops-bot',
        'sites:',
        `  osl1: {servers: ["${servers[0].url}"]}`,
        `  trd1: {servers: ["${servers[1].url}"]}`,
        `  bgo1: {servers: ["${dead}"]}`,
        `  sto1: {servers: ["${servers[2].url}"]}`,
        '',
      ].join('\n'),
    )
    env = {DVCTL_CONFIG: config}
  })
  afterAll(async () => {
    await Promise.all(workers.map((w) => w.stop()))
    await Promise.all(conns.map((c) => c.close()))
    await Promise.all(servers.map((s) => s.dispose()))
    if (dir) await rm(dir, {recursive: true, force: true})
  })

  it('publish takes datacenter_id from the site and the actor from the config', async () => {
    const r = await runCommand(
      [
        'publish',
        'dv.maskin.cmd.provision',
        '--data',
        '{"server_id":"a","profile":"p"}',
        '--site',
        'trd1',
        '--tenant',
        'multi',
        '--json',
      ],
      {env},
    )
    expect(r.exitCode).toBe(0)
    const result = PublishResult.parse(r.json())
    expect(result).toMatchObject({site: 'trd1', envelope: {datacenter_id: 'trd1', actor: 'ops-bot'}})
  })

  it('merges the sites, names the site on every line, warns about the unreadable ones, and exits 8 when one site failed', async () => {
    const ok = await runCommand(
      [
        'publish',
        'dv.maskin.cmd.provision',
        '--data',
        '{"server_id":"b","profile":"p"}',
        '--site',
        'osl1',
        '--tenant',
        'multi',
        '--wait',
        '--wait-timeout',
        '20s',
        '--json',
      ],
      {env},
    )
    expect(ok.exitCode).toBe(0)

    const r = await runCommand(
      ['task', 'watch', '--all-sites', '--tenant', 'multi', '--until-done', '--wait-timeout', '20s', '--json'],
      {env},
    )
    expect(r.exitCode).toBe(8)
    const lines = r.lines().map((l) => TaskMessageLine.parse(l))
    expect(new Set(lines.map((l) => l.site))).toEqual(new Set(['osl1', 'trd1']))
    const finals = lines.filter(
      (l) => ['succeeded', 'failed'].includes(l.task?.state ?? '') && l.subject !== 'dv.task.evt.progress',
    )
    expect(finals.map((l) => `${l.site}:${l.task?.state}`).sort()).toEqual(['osl1:succeeded', 'trd1:failed'])
    expect(r.stderr).toContain('bgo1')
    expect(r.stderr).toContain('Site sto1 has no DV_TASK stream')

    const list = TaskListResult.parse(
      (await runCommand(['task', 'list', '--all-sites', '--tenant', 'multi', '--json'], {env})).json(),
    )
    expect(list.sites.find((s) => s.site === 'bgo1')?.error).toBeTruthy()
    expect(list.sites.find((s) => s.site === 'sto1')?.error).toContain('no DV_TASK stream')
    expect(list.sites.find((s) => s.site === 'osl1')?.error).toBeUndefined()
    expect(list.tasks.map((t) => `${t.site}:${t.state}`).sort()).toEqual(['osl1:succeeded', 'trd1:failed'])
  })
})
