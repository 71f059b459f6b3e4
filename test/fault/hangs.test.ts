// Fault: servers killed mid-read, readers that go away, readers that are slow (issue 13, item 5).
// - a read without --follow ends within --timeout (+2 s) of its server's death: exit 4, or 68 when
//   another site answered;
// - closing stdout (`| head -1`) ends a tail within 2 s of the first line, with exit 0 and no stack;
// - `tail --json` into a slow pipe keeps the dvctl process under 200 MB over 300k messages.
// The big stream lives on osl1 (300k events in DV_EVT, 60k forged advisories in DV_DLQ); trd1 is small.
import {spawn, type ChildProcess} from 'node:child_process'
import {randomUUID} from 'node:crypto'
import {readFile} from 'node:fs/promises'
import {fileURLToPath} from 'node:url'
import {writeFile, mkdtemp, rm} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {jetstreamManager} from '@nats-io/jetstream'
import type {NatsConnection} from '@nats-io/transport-node'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {natsFixture, type NatsServerHandle} from '../helpers/nats.js'
import {connectTo, ensureStreams, envelope, publish} from '../integration/workflow-seed.js'
import {eventually} from './harness.js'

const RUN = fileURLToPath(new URL('../../bin/run.js', import.meta.url))
const BIG = 300_000
const ADVISORIES = 60_000
const TIMEOUT_MS = 2000

/** A dvctl run whose stdout is counted (not kept: 300k lines), with when its lines and its exit came. */
interface Run {
  child: ChildProcess
  lines: () => number
  stderr: () => string
  lastLine: () => string
  firstLineAt: () => number | undefined
  exited: Promise<{code: number | null; at: number}>
}

function run(args: string[], env: NodeJS.ProcessEnv, options: {slow?: boolean} = {}): Run {
  const child = spawn(process.execPath, [RUN, ...args], {
    env: {...process.env, NO_COLOR: '1', NATS_URL: 'nats://127.0.0.1:1', DV_SITE: undefined, ...env},
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let lines = 0
  let err = ''
  let last = ''
  let first: number | undefined
  child.stdout!.on('data', (chunk: Buffer) => {
    first ??= Date.now()
    // The end of the output (a streaming command's JSON error is its last line).
    last = (last + chunk.toString('utf8')).slice(-4096)
    for (let i = chunk.indexOf(10); i >= 0; i = chunk.indexOf(10, i + 1)) lines++
    if (options.slow) {
      // A slow reader: about 4 MB/s, in pauses.
      child.stdout!.pause()
      setTimeout(() => child.stdout!.resume(), Math.ceil(chunk.length / 4000))
    }
  })
  child.stderr!.on('data', (d) => (err += d))
  // 'close', not 'exit': the process may exit while the last of its output is still on its way to a paused
  // (slow) reader, and those lines count too.
  const exited = new Promise<{code: number | null; at: number}>((resolve) =>
    child.on('close', (code, signal) => resolve({code: code ?? (signal ? 128 : null), at: Date.now()})),
  )
  return {
    child,
    lines: () => lines,
    stderr: () => err,
    lastLine: () => last.trimEnd().split('\n').pop() ?? '',
    firstLineAt: () => first,
    exited,
  }
}

/** Publishes `count` messages without waiting for each ack (core publish into the stream's subjects). */
async function flood(nc: NatsConnection, count: number, make: (i: number) => [string, string]): Promise<void> {
  for (let i = 0; i < count; i++) {
    const [subject, body] = make(i)
    nc.publish(subject, body)
    if (i % 2000 === 1999) await nc.flush()
  }
  await nc.flush()
}

async function streamSize(nc: NatsConnection, stream: string): Promise<number> {
  return (await (await jetstreamManager(nc)).streams.info(stream)).state.messages
}

/** Resolves once a consumer is reading `stream` (the command's read has begun). */
async function readingStarted(url: string, stream: string): Promise<void> {
  const nc = await connectTo(url)
  try {
    const jsm = await jetstreamManager(nc)
    await eventually(
      async () => ((await jsm.streams.info(stream)).state.consumer_count > 0 ? true : undefined),
      60_000,
      `a consumer on ${stream}`,
    )
  } finally {
    await nc.close()
  }
}

async function peakRssMb(pid: number): Promise<number | undefined> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '')
  const kb = /VmHWM:\s+(\d+) kB/.exec(status)?.[1]
  return kb ? Number(kb) / 1024 : undefined
}

describe('bounded reads, closed and slow output', {timeout: 600_000}, () => {
  let dir: string
  let osl1: NatsServerHandle
  let trd1: NatsServerHandle
  let config: string

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dvctl-hangs-'))
    ;[osl1, trd1] = await Promise.all([natsFixture({name: 'osl1'}), natsFixture({name: 'trd1'})])
    const a = await connectTo(osl1.url)
    const b = await connectTo(trd1.url)
    await Promise.all([ensureStreams(a), ensureStreams(b)])
    const corr = randomUUID()
    const body = (i: number) =>
      JSON.stringify(
        envelope({
          type: 'maskin.server.provisioned',
          source: 'maskin',
          correlation_id: corr,
          data: {server_id: `srv-${i}`},
        }),
      )
    await flood(a, BIG, (i) => ['dv.maskin.evt.server.provisioned', body(i)])
    await flood(a, ADVISORIES, (i) => [
      '$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.DV_CMD.maskin',
      JSON.stringify({
        type: 'io.nats.jetstream.advisory.v1.max_deliver',
        id: randomUUID(),
        timestamp: new Date().toISOString(),
        stream: 'DV_CMD',
        consumer: 'maskin',
        stream_seq: i + 1,
        deliveries: 5,
      }),
    ])
    for (let i = 0; i < 20; i++) {
      const e = envelope({type: 'maskin.server.provisioned', source: 'maskin', correlation_id: corr, data: {i}})
      await publish(b, 'dv.maskin.evt.server.provisioned', e)
    }
    await eventually(async () => ((await streamSize(a, 'DV_EVT')) >= BIG ? true : undefined), 120_000, 'DV_EVT')
    await eventually(async () => ((await streamSize(a, 'DV_DLQ')) >= ADVISORIES ? true : undefined), 60_000, 'DV_DLQ')
    await Promise.all([a.close(), b.close()])
    config = join(dir, 'config.yaml')
    await writeFile(
      config,
      `default_site: osl1\nsites:\n  osl1: {servers: ["${osl1.url}"]}\n  trd1: {servers: ["${trd1.url}"]}\n`,
    )
  }, 300_000)

  afterAll(async () => {
    await Promise.all([osl1?.dispose(), trd1?.dispose()])
    await rm(dir, {recursive: true, force: true})
  })

  /** Kills osl1 once `ready` holds, restarts it afterwards; returns the run's exit and how long it took. */
  async function killDuring(
    r: Run,
    ready: () => Promise<unknown>,
  ): Promise<{code: number | null; afterKillMs: number}> {
    await ready()
    const killedAt = Date.now()
    await osl1.kill()
    try {
      const {code, at} = await Promise.race([
        r.exited,
        new Promise<never>((_, reject) =>
          setTimeout(() => reject(new Error(`still running 30 s after the kill; stderr:\n${r.stderr()}`)), 30_000),
        ),
      ])
      return {code, afterKillMs: at - killedAt}
    } finally {
      r.child.kill('SIGKILL')
      await osl1.start()
    }
  }

  const env = () => ({DVCTL_CONFIG: config})
  const within = TIMEOUT_MS + 2000

  it('tail --since 1h: a server killed mid-read ends it with exit 4 within --timeout + 2 s', async () => {
    const r = run(['tail', '--since', '1h', '--json', '--timeout', '2s', '--site', 'osl1'], env())
    const {code, afterKillMs} = await killDuring(r, () =>
      eventually(async () => (r.lines() >= 1000 ? true : undefined), 120_000, '1000 lines'),
    )
    expect(r.lines()).toBeLessThan(BIG)
    expect(code, r.stderr()).toBe(4)
    expect(afterKillMs, r.stderr()).toBeLessThan(within)
    // With --json the error is the stream's last line, one JSON object naming the site.
    expect(JSON.parse(r.lastLine()).error).toMatchObject({code: 'connection-timeout', exitCode: 4})
    expect(JSON.parse(r.lastLine()).error.message).toMatch(/osl1/)
    expect(r.stderr()).not.toMatch(/\n\s+at /) // no stack
  })

  it('tail --since 1h over two sites: the killed one is reported, the other printed in full, exit 68', async () => {
    const r = run(['tail', '--since', '1h', '--json', '--timeout', '2s', '--site', 'osl1', '--site', 'trd1'], env())
    const {code, afterKillMs} = await killDuring(r, () =>
      eventually(async () => (r.lines() >= 1000 ? true : undefined), 120_000, '1000 lines'),
    )
    expect(code, r.stderr()).toBe(68)
    expect(afterKillMs, r.stderr()).toBeLessThan(within)
    expect(r.stderr()).toMatch(/site osl1/)
  })

  it('workflow show --timeout 2s: a server killed mid-scan ends it with exit 4 within --timeout + 2 s', async () => {
    const r = run(['workflow', 'show', randomUUID(), '--since', '1h', '--timeout', '2s', '--site', 'osl1'], env())
    const {code, afterKillMs} = await killDuring(r, () => readingStarted(osl1.url, 'DV_EVT'))
    expect(code, r.stderr()).toBe(4)
    expect(afterKillMs, r.stderr()).toBeLessThan(within)
  })

  it('dlq list --timeout 2s: a server killed mid-read ends it with exit 4 within --timeout + 2 s', async () => {
    const r = run(['dlq', 'list', '--status', 'all', '--timeout', '2s', '--site', 'osl1', '--json'], env())
    const {code, afterKillMs} = await killDuring(r, () => readingStarted(osl1.url, 'DV_DLQ'))
    expect(code, r.stderr()).toBe(4)
    expect(afterKillMs, r.stderr()).toBeLessThan(within)
  })

  /** `dvctl ARGS | head -1` in bash: head's line, dvctl's exit status, and the time from the line to the end. */
  async function headOne(args: string) {
    const shell = spawn(
      'bash',
      ['-c', `"${process.execPath}" "${RUN}" ${args} | head -1; echo "dvctl=\${PIPESTATUS[0]}" >&2`],
      {
        env: {...process.env, NO_COLOR: '1', NATS_URL: 'nats://127.0.0.1:1', ...env()},
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    )
    let first: number | undefined
    let out = ''
    let err = ''
    shell.stdout.on('data', (d) => {
      first ??= Date.now()
      out += d
    })
    shell.stderr.on('data', (d) => (err += d))
    const end = await new Promise<number>((resolve) => shell.on('exit', () => resolve(Date.now())))
    return {lines: out.trim().split('\n'), out, err, afterFirstMs: end - (first ?? Infinity)}
  }

  it('tail | head -1 (with and without --follow) exits 0 within 2 s of the first line', async () => {
    for (const args of ['tail --since 1h --json --site osl1', 'tail --since 1h --json --follow --site osl1']) {
      const r = await headOne(args)
      expect(r.lines, r.err).toHaveLength(1)
      expect(JSON.parse(r.out).stream).toBe('DV_EVT')
      expect(r.err, args).toMatch(/dvctl=0/)
      expect(r.err).not.toMatch(/EPIPE|\n\s+at /)
      expect(r.afterFirstMs, `${args}: ${r.err}`).toBeLessThan(2000)
    }
  })

  it('an idle tail --follow | head -1 (one matching message, then nothing) exits 0 within 2 s of its line', async () => {
    // Nothing more is written after the first line, so no EPIPE ever comes: the pipe's reader is watched.
    const corr = randomUUID()
    const b = await connectTo(trd1.url)
    try {
      const e = envelope({type: 'maskin.server.provisioned', source: 'maskin', correlation_id: corr, data: {i: 0}})
      await publish(b, 'dv.maskin.evt.server.provisioned', e)
    } finally {
      await b.close()
    }
    const r = await headOne(`tail --since 1h --json --follow --site trd1 --correlation ${corr}`)
    expect(r.lines, r.err).toHaveLength(1)
    expect(JSON.parse(r.out).stream).toBe('DV_EVT')
    expect(r.out).toContain(corr)
    expect(r.err).toMatch(/dvctl=0/)
    expect(r.err).not.toMatch(/EPIPE|\n\s+at /)
    expect(r.afterFirstMs, r.err).toBeLessThan(2000)
  })

  it('tail --json into a slow pipe stays under 200 MB over 300k messages', async () => {
    const r = run(['tail', '--since', '1h', '--json', '--site', 'osl1'], env(), {slow: true})
    let peak = 0
    const sampler = setInterval(() => {
      void peakRssMb(r.child.pid!).then((mb) => (peak = Math.max(peak, mb ?? 0)))
    }, 100)
    const {code} = await r.exited
    clearInterval(sampler)
    expect(code, r.stderr()).toBe(0)
    expect(r.lines()).toBe(BIG)
    expect(peak).toBeGreaterThan(0)
    expect(peak, `peak RSS ${peak.toFixed(0)} MB`).toBeLessThan(200)
  })
})
