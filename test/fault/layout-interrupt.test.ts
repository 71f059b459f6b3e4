// Fault: `layout apply` interrupted half-way, by killing the CLI (SIGKILL, as a crash or a closed laptop)
// and by killing the server, each at a create seen by the server, then run again: each test first checks
// that the server really holds a partial layout; the second apply must finish the job, and a plan afterwards
// must find nothing to change (docs/operations.md, "Layouts": apply is idempotent). Asserted on the live streams and
// consumers of the server.
import {spawn} from 'node:child_process'
import {mkdtemp, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {LayoutResult} from '../../src/lib/layout/apply.js'
import {connectSite, type SiteConnection} from '../../src/lib/nats/connection.js'
import {runCli} from '../helpers/cli.js'
import {natsFixture, type NatsServerHandle} from '../helpers/nats.js'
import {waitFor} from '../helpers/wait.js'

const STREAMS = 40
// Several rounds of 16 consumer creates: an interrupt at the first one lands well before the last.
const PER_STREAM = 4
const CONSUMERS = STREAMS * PER_STREAM
const BIN = process.env.DVCTL_TEST_RUN || fileURLToPath(new URL('../../bin/run.js', import.meta.url))

describe('layout apply interrupted half-way', {timeout: 180_000}, () => {
  let dir: string
  let layoutFile: string

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dvctl-layout-fault-'))
    const streams: Record<string, unknown> = {}
    for (let i = 0; i < STREAMS; i++) {
      streams[`FAULT_${i}`] = {
        subjects: [`fault.${i}.>`],
        max_age: '1d',
        consumers: Object.fromEntries(
          Array.from({length: PER_STREAM}, (_, j) => [
            `w${i}x${j}`,
            {filter_subject: `fault.${i}.cmd.${j}`, ack_policy: 'explicit', max_deliver: 5},
          ]),
        ),
      }
    }
    layoutFile = join(dir, 'layout.yaml')
    await writeFile(layoutFile, JSON.stringify({layout: 'fault', streams}))
  })
  afterAll(async () => rm(dir, {recursive: true, force: true}))

  async function live(conn: SiteConnection): Promise<{streams: number; consumers: number}> {
    const jsm = await conn.jsm()
    let streams = 0
    let consumers = 0
    for await (const s of jsm.streams.list()) {
      if (!s.config.name.startsWith('FAULT_')) continue
      streams++
      consumers += s.state.consumer_count
    }
    return {streams, consumers}
  }

  /**
   * Starts `layout apply` and calls `interrupt` the moment the server receives its first create of `kind`
   * (streams are created first, then consumers, at most 16 requests in flight). At the first consumer
   * create every stream was created and acknowledged, and most consumers are still to come; at the first
   * stream create, nearly everything is. `creates()` counts the creates of `kind` that reached the server.
   */
  async function applyInterrupted(
    server: NatsServerHandle,
    spy: SiteConnection,
    kind: 'STREAM' | 'CONSUMER',
    interrupt: () => void,
    extra: string[] = [],
  ) {
    let creates = 0
    spy.nc.subscribe(`$JS.API.${kind}.>`, {
      callback: (_, m) => {
        if (!/\.CREATE\./.test(m.subject)) return
        if (creates++ === 0) interrupt()
      },
    })
    await spy.nc.flush()
    const env: NodeJS.ProcessEnv = {...process.env, NO_COLOR: '1', DVCTL_CONFIG: join(dir, 'none.yaml')}
    delete env.NATS_URL
    const args = [BIN, 'layout', 'apply', layoutFile, '--yes', '--server', server.url, ...extra]
    const child = spawn(process.execPath, args, {env, stdio: ['ignore', 'pipe', 'ignore']})
    let stdout = ''
    child.stdout.on('data', (d) => (stdout += d))
    const exited = new Promise<{code: number | null; signal: NodeJS.Signals | null; stdout: string}>((resolve) =>
      child.on('close', (code, signal) => resolve({code, signal, stdout})),
    )
    return {child, exited, creates: () => creates}
  }

  async function expectConverged(server: NatsServerHandle, conn: SiteConnection) {
    const rerun = await runCli(['layout', 'apply', layoutFile, '--yes', '--json', '--server', server.url])
    expect(rerun.exitCode, rerun.stdout + rerun.stderr).toBe(0)
    expect(LayoutResult.parse(rerun.json()).failed).toEqual([])
    expect(await live(conn)).toEqual({streams: STREAMS, consumers: CONSUMERS})
    const plan = await runCli(['layout', 'plan', layoutFile, '--json', '--fail-on-drift', '--server', server.url])
    expect(plan.exitCode, plan.stdout + plan.stderr).toBe(0)
    expect(LayoutResult.parse(plan.json()).changes.filter((c) => c.action !== 'noop')).toEqual([])
  }

  it('converges when the CLI is killed half-way through', async () => {
    const server = await natsFixture({name: 'lf1'})
    const conn = await connectSite({name: 'lf1', servers: [server.url]}, {timeoutMs: 5000})
    try {
      const run = await applyInterrupted(server, conn, 'CONSUMER', () => run.child.kill('SIGKILL'))
      expect((await run.exited).signal).toBe('SIGKILL')
      // The creates that reached the server before the kill are carried out (nobody reads their answers):
      // wait for those, then the layout on the server is the half-way one.
      const partial = await waitFor(
        async () => {
          const now = await live(conn)
          return now.consumers === run.creates() && now
        },
        {what: 'the consumer creates sent before the kill carried out'},
      )
      expect(partial.streams).toBe(STREAMS)
      expect(partial.consumers).toBeGreaterThan(0)
      expect(partial.consumers).toBeLessThan(CONSUMERS)
      await expectConverged(server, conn)
    } finally {
      await conn.close()
      await server.dispose()
    }
  })

  it('Ctrl-C (SIGINT) stops starting changes, reports what was done and not (exit 130), and converges on a re-run', async () => {
    const server = await natsFixture({name: 'lf3'})
    const conn = await connectSite({name: 'lf3', servers: [server.url]}, {timeoutMs: 5000})
    try {
      const run = await applyInterrupted(server, conn, 'CONSUMER', () => run.child.kill('SIGINT'), ['--json'])
      const first = await run.exited
      expect(first.code, first.stdout).toBe(130)
      const result = LayoutResult.parse(JSON.parse(first.stdout))
      const key = (c: {kind: string; name: string; stream?: string}) => `${c.kind} ${c.stream ?? ''}/${c.name}`
      // Every planned change is in exactly one list; the ones not started say why.
      const listed = [...result.done, ...result.failed, ...result.not_attempted].map(key).sort()
      expect(listed).toEqual(result.changes.map(key).sort())
      expect(result.failed).toEqual([])
      expect(result.done.filter((c) => c.kind === 'stream')).toHaveLength(STREAMS)
      expect(result.not_attempted.length).toBeGreaterThan(0)
      for (const n of result.not_attempted) expect(n.reason).toBe('interrupted')
      // What the result says was done is what the server holds: the requests in flight were waited for.
      expect(await live(conn)).toEqual({streams: STREAMS, consumers: result.done.length - STREAMS})
      await expectConverged(server, conn)
    } finally {
      await conn.close()
      await server.dispose()
    }
  })

  it('reports done, failed and not attempted (exit 68) when the server is killed, and converges when it is back', async () => {
    const server = await natsFixture({name: 'lf2'})
    const conn = await connectSite({name: 'lf2', servers: [server.url]}, {timeoutMs: 5000})
    try {
      const run = await applyInterrupted(server, conn, 'STREAM', () => void server.kill(), [
        '--json',
        '--timeout',
        '2s',
      ])
      const first = await run.exited
      expect(first.code, first.stdout).toBe(68)
      const result = LayoutResult.parse(JSON.parse(first.stdout))
      const key = (c: {kind: string; name: string; stream?: string}) => `${c.kind} ${c.stream ?? ''}/${c.name}`
      // Every planned change is in exactly one list.
      const listed = [...result.done, ...result.failed, ...result.not_attempted].map(key).sort()
      expect(listed).toEqual(result.changes.map(key).sort())
      expect(result.changes).toHaveLength(STREAMS + CONSUMERS)
      // Stopped early: streams not all done, no consumer done (they come after every stream).
      expect(result.done.filter((c) => c.kind === 'stream').length).toBeLessThan(STREAMS)
      expect(result.done.filter((c) => c.kind === 'consumer')).toEqual([])
      expect(result.failed.length).toBeGreaterThan(0)
      expect(result.not_attempted.length).toBeGreaterThan(0)
      for (const n of result.not_attempted) expect(n.reason).toMatch(/stopped answering|failed/)
      await server.start()
      // The server holds the partial layout until the re-run.
      const partial = await waitFor(() => live(conn), {what: 'the restarted server answering'})
      expect(partial.streams).toBeLessThan(STREAMS)
      expect(partial.consumers).toBe(0)
      await expectConverged(server, conn)
    } finally {
      await conn.close()
      await server.dispose()
    }
  })
})
