#!/usr/bin/env node
// Scanning at scale (bench/README.md), on a private nats-server whose DV_CMD holds MESSAGES (default 1,000,000)
// realistic envelopes (about 380 bytes) of unrelated workflows, plus one workflow of 20 messages spread
// through it (some noise carries that id in its payload, so the byte pre-filter lets it through and the JSON
// check must drop it); DV_EVT, DV_TASK and DV_DLQ exist and are empty. Every side is a whole process timed
// from spawn to exit (start-up, connect and read), with its peak RSS (/usr/bin/time), ROUNDS (default 3)
// times, alternating:
//   raw    this file in `raw` mode: the raw client only (@nats-io/transport-node, @nats-io/jetstream), an
//          ordered consumer per stream (DV_CMD, DV_EVT, DV_TASK, DV_DLQ) drained to its end, touching each
//          message's data: the reference
//   dvctl  `dvctl workflow show ID --since 0 --json` (the same four streams, the workflow found and printed)
// Target: dvctl at >= 0.9x the raw process (raw wall time over dvctl's, medians). Then `dvctl tail --json |
// head -1` over the same stream, through a shell pipe, timed to the pipeline's exit: target within 2 s (tail
// prints the first message and stops when head closes the pipe; it does not read the stream first).
// Exit 1 when a target is missed. PROFILE=<dir> writes a CPU profile of each measured child there. Run
// `npm run build` first.
import {spawnSync} from 'node:child_process'
import {randomUUID} from 'node:crypto'
import {existsSync, readFileSync} from 'node:fs'
import {mkdtemp, rm} from 'node:fs/promises'
import {loadavg, tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'

const here = fileURLToPath(import.meta.url)
const MESSAGES = Number(process.env.MESSAGES ?? 1_000_000)
const ROUNDS = Number(process.env.ROUNDS ?? 3)
const BATCH = 1000

const [mode, url] = process.argv.slice(2)
if (mode === 'raw') {
  await rawDrain(url)
} else {
  await main()
}

/** The reference: what a plain script needs to read the four streams to their end with the raw client. */
async function rawDrain(url) {
  const {connect} = await import('@nats-io/transport-node')
  const {jetstream, jetstreamManager} = await import('@nats-io/jetstream')
  const nc = await connect({servers: url})
  const js = jetstream(nc)
  const jsm = await jetstreamManager(nc)
  let count = 0
  let bytes = 0
  for (const stream of ['DV_CMD', 'DV_EVT', 'DV_TASK', 'DV_DLQ']) {
    const total = (await jsm.streams.info(stream)).state.last_seq
    if (total === 0) continue
    const consumer = await js.consumers.get(stream, {opt_start_seq: 1})
    const messages = await consumer.consume({max_messages: BATCH})
    for await (const m of messages) {
      bytes += m.data.length
      count++
      if (m.seq >= total) break
    }
  }
  await nc.close()
  if (bytes === 0) throw new Error('no data')
  console.log(JSON.stringify({count}))
}

async function main() {
  const {startNatsServer} = await import('../dist/lib/sandbox/nats-server.js')
  const {connect} = await import('@nats-io/transport-node')
  const {jetstreamManager} = await import('@nats-io/jetstream')
  const {SERVICES} = await import('../dist/lib/contract/services.js')

  const dir = await mkdtemp(join(tmpdir(), 'dvctl-bench-scan-'))
  const server = await startNatsServer({name: 'bench', dir: join(dir, 'server'), extraConfig: 'max_payload: 1MB'})
  try {
    const nc = await connect({servers: server.url})
    const jsm = await jetstreamManager(nc)
    await jsm.streams.add({name: 'DV_CMD', subjects: ['dv.*.cmd.>']})
    await jsm.streams.add({name: 'DV_EVT', subjects: SERVICES.map((s) => `dv.${s}.evt.>`)})
    await jsm.streams.add({name: 'DV_TASK', subjects: ['dv.task.evt.>']})
    await jsm.streams.add({name: 'DV_DLQ', subjects: ['$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.>']})

    const correlationId = randomUUID()
    const every = Math.floor(MESSAGES / 20)
    const t0 = Date.now()
    let previous
    for (let i = 0; i < MESSAGES; i++) {
      const ours = i % every === every / 2
      const id = randomUUID()
      const envelope = {
        specversion: '1.0',
        id,
        type: 'maskin.server.provision.requested',
        source: 'sentral',
        time: new Date(t0 + i).toISOString(),
        actor: 'user:bench',
        correlation_id: ours ? correlationId : randomUUID(),
        ...(ours && previous ? {causation_id: previous} : {}),
        tenant_id: 'acme',
        datacenter_id: 'osl1',
        data: {server_id: `srv-${i}`, profile: 'small', note: i % 5000 === 1 ? correlationId : 'noise'},
      }
      if (ours) previous = id
      // Core publishes (the stream captures them) with a flush every 10k: fast to seed, same bytes stored.
      nc.publish('dv.maskin.cmd.provision', JSON.stringify(envelope))
      if (i % 10_000 === 9_999) await nc.flush()
    }
    await nc.flush()
    for (;;) {
      const n = (await jsm.streams.info('DV_CMD')).state.messages
      if (n >= MESSAGES) break
      if (Date.now() - t0 > 600_000) throw new Error(`stream has ${n} of ${MESSAGES} messages`)
      await new Promise((r) => setTimeout(r, 200))
    }
    const info = await jsm.streams.info('DV_CMD')
    await nc.close()
    console.log(
      `DV_CMD: ${info.state.messages} messages, ${(info.state.bytes / 2 ** 20).toFixed(0)} MiB, seeded in ${((Date.now() - t0) / 1000).toFixed(1)}s`,
    )

    const bin = fileURLToPath(new URL('../bin/run.js', import.meta.url))
    const env = {...process.env, NO_COLOR: '1', DVCTL_CONFIG: join(dir, 'none.yaml')}
    const timeFile = join(dir, 'time')
    const useTime = existsSync('/usr/bin/time')
    /** One whole process: wall seconds from spawn to exit, peak RSS (MiB) and its stdout. */
    const timed = (argv) => {
      const t = process.hrtime.bigint()
      const r = spawnSync(
        useTime ? '/usr/bin/time' : argv[0],
        useTime ? ['-o', timeFile, '-f', '%U %S %M', ...argv] : argv.slice(1),
        {
          encoding: 'utf8',
          env,
          maxBuffer: 64 * 2 ** 20,
        },
      )
      const s = Number(process.hrtime.bigint() - t) / 1e9
      if (r.status !== 0) throw new Error(`${argv.slice(1, 4).join(' ')} exited ${r.status}: ${r.stderr}`)
      // CPU seconds (user + sys): on a shared machine the wall clock mostly measures waiting for a core.
      const [user, sys, kb] = useTime ? readFileSync(timeFile, 'utf8').trim().split(/\s+/).slice(-3).map(Number) : []
      return {s, cpu: useTime ? user + sys : NaN, rss: useTime ? kb / 1024 : NaN, stdout: r.stdout}
    }
    const raw = []
    const shown = []
    // PROFILE=<dir>: a CPU profile of each measured child (node --cpu-prof), to see where the time goes.
    const prof = process.env.PROFILE ? ['--cpu-prof', '--cpu-prof-dir', process.env.PROFILE] : []
    for (let round = 1; round <= ROUNDS; round++) {
      const side = {
        raw: () => {
          const r = timed([process.execPath, ...prof, here, 'raw', server.url])
          if (JSON.parse(r.stdout).count !== MESSAGES) throw new Error(`raw read ${r.stdout}`)
          raw.push(r)
        },
        dvctl: () => {
          const r = timed([
            process.execPath,
            ...prof,
            bin,
            'workflow',
            'show',
            correlationId,
            '--server',
            server.url,
            '--since',
            '0',
            '--json',
          ])
          const n = JSON.parse(r.stdout).messages.length
          if (n !== 20) throw new Error(`workflow show found ${n} messages, expected 20`)
          shown.push(r)
        },
      }
      if (round % 2) {
        side.raw()
        side.dvctl()
      } else {
        side.dvctl()
        side.raw()
      }
      const [a, b] = [raw.at(-1), shown.at(-1)]
      console.log(
        `round ${round}: raw process ${a.s.toFixed(2)}s (CPU ${a.cpu.toFixed(2)}s, RSS ${a.rss.toFixed(0)} MiB)  ` +
          `dvctl workflow show ${b.s.toFixed(2)}s (CPU ${b.cpu.toFixed(2)}s, RSS ${b.rss.toFixed(0)} MiB)  ratio ${(a.s / b.s).toFixed(3)}  ` +
          `load ${loadavg()[0].toFixed(1)}`,
      )
    }
    const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
    const rawS = median(raw.map((r) => r.s))
    const showS = median(shown.map((r) => r.s))
    const ratio = rawS / showS
    console.log(
      `raw drain process (median): ${rawS.toFixed(2)}s = ${Math.round(MESSAGES / rawS)} msg/s, peak RSS ${Math.max(...raw.map((r) => r.rss)).toFixed(0)} MiB`,
    )
    console.log(
      `dvctl workflow show (median): ${showS.toFixed(2)}s = ${Math.round(MESSAGES / showS)} msg/s, peak RSS ${Math.max(...shown.map((r) => r.rss)).toFixed(0)} MiB`,
    )
    const rawCpu = median(raw.map((r) => r.cpu))
    const showCpu = median(shown.map((r) => r.cpu))
    console.log(
      `CPU (median): raw ${rawCpu.toFixed(2)}s, dvctl ${showCpu.toFixed(2)}s, ratio ${(rawCpu / showCpu).toFixed(3)}`,
    )
    console.log(
      `${ratio >= 0.9 ? 'ok' : 'FAIL'}: workflow show at ${ratio.toFixed(3)}x the raw drain process (target >= 0.9)`,
    )

    // tail --json | head -1: a shell pipeline, so head really closes the pipe after one line.
    const tails = []
    for (let i = 0; i < ROUNDS; i++) {
      const cmd = `${JSON.stringify(process.execPath)} ${JSON.stringify(bin)} tail --json --server ${server.url} | head -1`
      const r = timed(['/bin/sh', '-c', cmd])
      const first = JSON.parse(r.stdout)
      if (first.stream !== 'DV_CMD') throw new Error(`tail printed ${r.stdout.slice(0, 200)}`)
      tails.push(r)
    }
    const tailS = median(tails.map((r) => r.s))
    console.log(
      `${tailS <= 2 ? 'ok' : 'FAIL'}: dvctl tail --json | head -1 over ${MESSAGES} messages exits in ${tailS.toFixed(2)}s ` +
        `(median of ${ROUNDS}: ${tails.map((r) => r.s.toFixed(2)).join(', ')}; target <= 2s), peak RSS ${Math.max(...tails.map((r) => r.rss)).toFixed(0)} MiB`,
    )
    process.exitCode = ratio >= 0.9 && tailS <= 2 ? 0 : 1
  } finally {
    await server.dispose()
    await rm(dir, {recursive: true, force: true})
  }
}
