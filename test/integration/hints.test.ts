// Hints name only flags the command has, and a hint suggesting another dvctl command keeps the user's site
// selection (issue 15): following it acts on the same site.
import {mkdtemp, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {runCommand} from '../helpers/run.js'
import {natsFixture, type NatsServerHandle} from '../helpers/nats.js'

describe('hints', {timeout: 60_000}, () => {
  // JetStream without the standard layout: no DV_DLQ, no DV_CMD.
  let bare: NatsServerHandle
  let dir: string
  let env: NodeJS.ProcessEnv

  beforeAll(async () => {
    bare = await natsFixture({name: 'osl1'})
    dir = await mkdtemp(join(tmpdir(), 'dvctl-hints-'))
    const config = join(dir, 'config.yaml')
    await writeFile(config, `sites:\n  osl1: {servers: ["${bare.url}"]}\n  trd1: {servers: ["${bare.url}"]}\n`)
    env = {DVCTL_CONFIG: config, NATS_URL: ''}
  })
  afterAll(async () => {
    await bare?.dispose()
    if (dir) await rm(dir, {recursive: true, force: true})
  })

  const hintOf = (r: {json(): {error: {hint?: string}}}) => r.json().error.hint ?? ''

  it('request refusing a message does not mention a --dry-run it does not have', async () => {
    const r = await runCommand(
      ['request', 'dv.rpc.identitet.introspect_token', '--data', '{}', '--site', 'osl1', '--json'],
      {env},
    )
    expect(r.exitCode).toBe(2)
    expect(r.json().error.code).toBe('invalid-message')
    expect(hintOf(r)).not.toContain('--dry-run')
    const p = await runCommand(['publish', 'dv.maskin.cmd.provision', '--data', '{}', '--site', 'osl1', '--json'], {
      env,
    })
    expect(p.exitCode).toBe(2)
    expect(hintOf(p)).toContain('--dry-run')
  })

  it('a hint suggesting dvctl layout apply keeps --site', async () => {
    const r = await runCommand(['dlq', 'list', '--site', 'trd1', '--json'], {env})
    expect(r.exitCode, r.stdout + r.stderr).toBe(5)
    expect(hintOf(r)).toContain('dvctl layout apply --site trd1')
  })

  it('a hint suggesting dvctl layout apply keeps --server', async () => {
    const r = await runCommand(['dlq', 'list', '--server', bare.url, '--json'])
    expect(r.exitCode, r.stdout + r.stderr).toBe(5)
    expect(hintOf(r)).toContain(`dvctl layout apply --server ${bare.url}`)
  })

  it('without a site selection the hint is left as it is', async () => {
    const r = await runCommand(['dlq', 'list', '--json'], {env: {...env, DV_SITE: 'osl1'}})
    expect(r.exitCode).toBe(5)
    expect(hintOf(r)).toMatch(/dvctl layout apply\.$/)
  })

  it('a hint naming a site-less command (site, sandbox) is left alone', async () => {
    const r = await runCommand(['dlq', 'list', '--site', 'nope', '--json'], {env})
    expect(r.exitCode).toBe(2)
    expect(hintOf(r)).not.toContain('--site nope --server')
    expect(hintOf(r)).not.toMatch(/dvctl site \S+ --site/)
  })
})
