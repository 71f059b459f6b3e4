// Ctrl-C during a paced bulk replay, in a real pseudo-terminal (issue 15): the first interrupt stops new
// sends at once, waits only for the acks already in flight, records them, reports exactly what was sent
// and exits 130 within 2 s. The stream, the output and the ledger must agree on how many copies were
// sent, and running the command again sends the rest, each exactly once.
import {fileURLToPath} from 'node:url'

import pty from '@lydell/node-pty'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {DlqListResult, DlqReplayResult} from '../../src/lib/dlq/model.js'
import {STREAMS} from '../../src/lib/layout/names.js'
import {runCli} from '../helpers/cli.js'
import {command, type DlqSite, startDlqSite, terminate} from '../integration/dlq-fixture.js'
import {eventually, readStream} from './harness.js'

const RUN = fileURLToPath(new URL('../../bin/run.js', import.meta.url))
const COUNT = 20

describe('Ctrl-C during dlq replay --all --rate 2/s', {timeout: 120_000}, () => {
  let site: DlqSite
  const originals: number[] = []

  beforeAll(async () => {
    site = await startDlqSite('osl1')
    const js = await site.conn.js()
    const jsm = await site.conn.jsm()
    for (let i = 0; i < COUNT; i++) {
      const env = command('maskin.server.provision.requested', {data: {server_id: `srv-${i}`, profile: 'small'}})
      originals.push((await js.publish('dv.maskin.cmd.provision', JSON.stringify(env), {msgID: String(env.id)})).seq)
    }
    // The layout's own `maskin` consumer terminates each command: one advisory each in DV_DLQ.
    const consumer = await js.consumers.get(STREAMS.cmd, 'maskin')
    await terminate(consumer, COUNT, COUNT)
    await eventually(
      async () => ((await jsm.streams.info(STREAMS.dlq)).state.messages === COUNT ? true : undefined),
      30_000,
      `${COUNT} advisories in DV_DLQ`,
    )
  }, 60_000)

  afterAll(async () => site?.dispose())

  const copiesInStream = async () => (await readStream(site.conn, STREAMS.cmd)).filter((e) => e.headers['Dv-Replay-Of'])

  it('stops within 2 s, and stream, output and ledger agree; a re-run sends the rest once each', async () => {
    const env: Record<string, string> = {}
    for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env[k] = v
    Object.assign(env, {TERM: 'xterm-256color', NO_COLOR: '1', DVCTL_CONFIG: '/nonexistent/dvctl.yaml'})
    delete env.DV_SITE
    delete env.NATS_URL
    const args = ['dlq', 'replay', '--all', '--rate', '2/s', '--yes', '--server', site.server.url]
    const term = pty.spawn(process.execPath, [RUN, ...args], {cols: 100, rows: 30, env})
    let output = ''
    term.onData((d) => (output += d))
    const exited = new Promise<{exitCode: number; at: number}>((resolve) =>
      term.onExit(({exitCode}) => resolve({exitCode, at: Date.now()})),
    )
    const jsm = await site.conn.jsm()
    await eventually(
      async () => ((await jsm.streams.info(STREAMS.cmd)).state.messages >= COUNT + 4 ? true : undefined),
      30_000,
      'four copies sent',
    )
    const interruptedAt = Date.now()
    term.write('\u0003')
    const timer = setTimeout(() => term.kill('SIGKILL'), 15_000)
    const {exitCode, at} = await exited
    clearTimeout(timer)
    expect(exitCode, output).toBe(130)
    expect(at - interruptedAt, output).toBeLessThan(2000)

    const copies = await copiesInStream()
    expect(copies.length).toBeGreaterThanOrEqual(4)
    expect(copies.length).toBeLessThan(COUNT)
    // What the output says was sent is what the stream holds.
    const summary = /(\d+) replayed, \d+ skipped, \d+ failed, (\d+) not attempted on site (\S+) \((\S+)\)/.exec(output)
    expect(summary, output).not.toBeNull()
    expect(Number(summary![1]), output).toBe(copies.length)
    expect(Number(summary![1]) + Number(summary![2]), output).toBe(COUNT)
    expect([summary![3], summary![4]]).toEqual([`127.0.0.1:${site.server.port}`, site.server.url])
    // The ledger marks exactly those replayed.
    const cli = (...a: string[]) => runCli([...a, '--server', site.server.url])
    const listed = DlqListResult.parse((await cli('dlq', 'list', '--status', 'all', '--json')).json())
    const replayed = listed.dead_letters.filter((d) => d.status === 'replayed')
    expect(replayed.map((d) => d.ref).sort()).toEqual(copies.map((c) => c.headers['Dv-Replay-Of']).sort())

    // The re-run sends the rest, each once.
    const again = await cli('dlq', 'replay', '--all', '--yes', '--json')
    expect(again.exitCode, again.stdout + again.stderr).toBe(0)
    expect(DlqReplayResult.parse(again.json()).replayed).toHaveLength(COUNT - copies.length)
    const all = await copiesInStream()
    expect(all).toHaveLength(COUNT)
    expect(new Set(all.map((c) => c.headers['Dv-Replay-Of'])).size).toBe(COUNT)
    expect(new Set(all.map((c) => c.headers['Dv-Replay-Of']))).toEqual(new Set(originals.map((s) => `DV_CMD:${s}`)))
  })
})
