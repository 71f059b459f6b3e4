import {mkdtemp, readFile, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {DemoResult} from '../../src/lib/demo/run.js'
import {DlqListResult} from '../../src/lib/dlq/model.js'
import {STREAMS} from '../../src/lib/layout/names.js'
import {connectSite} from '../../src/lib/nats/connection.js'
import {natsFixture, type NatsServerHandle} from '../helpers/nats.js'
import {runCommand} from '../helpers/run.js'

describe('demo without a named site runs in a sandbox, never on the default site', {timeout: 120_000}, () => {
  let dir: string
  let shared: NatsServerHandle
  let env: NodeJS.ProcessEnv
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dvctl-demo-sandbox-'))
    const config = join(dir, 'config.yaml')
    // The default site is a reachable server with the layout, as a real site would be: the demo must not use it.
    shared = await natsFixture({name: 'shared', layout: true})
    await writeFile(config, `default_site: shared\nsites:\n  shared: {servers: ["${shared.url}"]}\n`)
    env = {DVCTL_CONFIG: config, NATS_URL: '', XDG_STATE_HOME: join(dir, 'state')}
  })
  afterAll(async () => {
    if (!dir) return
    await runCommand(['sandbox', 'down'], {env})
    await shared?.dispose()
    await rm(dir, {recursive: true, force: true})
  })

  it('starts a sandbox, registers its sites and runs there, cross-site flow included', async () => {
    const r = await runCommand(['demo', '--timeout', '2s', '--step-delay', '0', '--json'], {env})
    expect(r.exitCode).toBe(0)
    const result = DemoResult.parse(r.json())
    expect(result.sandbox).toMatchObject({registered_in: env.DVCTL_CONFIG})
    expect(result.sites.map((s) => s.site)).toEqual(['osl1', 'trd1'])
    expect(result.workflows.map((w) => `${w.kind}@${w.site}:${w.outcome}`)).toEqual([
      'provisioning@osl1:succeeded',
      'network-apply@osl1:succeeded',
      'network-apply@trd1:succeeded',
      'poison@osl1:failed',
    ])
    expect(await readFile(env.DVCTL_CONFIG!, 'utf8')).toContain('osl1')

    for (const next of result.next) {
      expect(next.argv).toEqual(expect.arrayContaining(['--site']))
      const run = await runCommand(next.argv, {env, timeoutMs: 30_000})
      expect({command: next.command, exitCode: run.exitCode}).toEqual({command: next.command, exitCode: 0})
    }
    const list = DlqListResult.parse((await runCommand(['dlq', 'list', '--site', 'osl1', '--json'], {env})).json())
    expect(list.dead_letters.map((d) => d.ref)).toEqual([result.dead_letter.ref])
  })

  it('says it uses the sandbox, and the default site got nothing', async () => {
    const r = await runCommand(['demo', '--timeout', '2s', '--step-delay', '0'], {env})
    expect(r.exitCode).toBe(0)
    expect(r.stderr).toContain('starting the local sandbox')
    expect(r.stderr).toContain('osl1: layout dataverket already in place')
    const conn = await connectSite({name: 'shared', servers: [shared.url]}, {timeoutMs: 5000})
    try {
      const jsm = await conn.jsm()
      expect((await jsm.streams.info(STREAMS.cmd)).state.messages).toBe(0)
    } finally {
      await conn.close()
    }
  })
})
