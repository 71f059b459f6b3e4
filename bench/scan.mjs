#!/usr/bin/env node
// Scanning (bench/README.md): `workflow show` over a stream of 1M messages must read at >= 0.9x the
// raw ordered-consumer drain of the same client on the same stream, in the same run, with bounded memory.
//
// A private nats-server gets DV_CMD with MESSAGES realistic envelopes (about 330 bytes) of unrelated
// workflows, plus one workflow of 20 messages spread through it (some noise carries that id in its
// payload, so the byte pre-filter lets it through and the JSON check must drop it). Then, alternating,
// each in its own child process so that peak RSS is its own:
//   raw   an ordered consumer (same batch size) drained to the end, touching each message's data
//   scan  readWorkflow() from dist/ (what `workflow show --json` runs): DV_CMD, DV_EVT, DV_TASK, DV_DLQ
// and once the real CLI, `dvctl workflow show ID --json`, end to end (process start-up included).
// Exit 1 when the median scan rate is below 0.9x the median raw rate. Run `npm run build` first.
import {spawnSync} from 'node:child_process'
import {randomUUID} from 'node:crypto'
import {mkdtemp, rm} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'

const here = fileURLToPath(import.meta.url)
const MESSAGES = Number(process.env.MESSAGES ?? 1_000_000)
const ROUNDS = Number(process.env.ROUNDS ?? 5)
const BATCH = 1000

const [mode, url, arg] = process.argv.slice(2)
if (mode === 'raw' || mode === 'scan') {
  await child(mode, url, arg)
} else {
  await main()
}

/** One measured read, in its own process: prints {ms, count, rss_mb}. */
async function child(mode, url, correlationId) {
  const {connectSite} = await import('../dist/lib/nats/connection.js')
  // Modules are loaded before the clock starts, for both modes: what is timed is the read.
  const {readWorkflow} = await import('../dist/lib/workflow/read.js')
  await import('@nats-io/jetstream')
  const conn = await connectSite({name: 'bench', servers: [url]}, {timeoutMs: 10_000})
  const start = process.hrtime.bigint()
  let count = 0
  if (mode === 'raw') {
    const js = await conn.js()
    const jsm = await conn.jsm()
    const total = (await jsm.streams.info('DV_CMD')).state.messages
    const consumer = await js.consumers.get('DV_CMD', {opt_start_seq: 1})
    const messages = await consumer.consume({max_messages: BATCH})
    let bytes = 0
    for await (const m of messages) {
      bytes += m.data.length
      if (++count >= total) break
    }
    if (bytes === 0) throw new Error('no data')
  } else {
    const result = await readWorkflow([conn], {correlationId, window: {}, batch: BATCH})
    count = result.scanned
    if (result.messages.length !== 20) throw new Error(`found ${result.messages.length} messages, expected 20`)
  }
  const ms = Number(process.hrtime.bigint() - start) / 1e6
  await conn.close()
  console.log(JSON.stringify({ms, count, rss_mb: Math.round(process.resourceUsage().maxRSS / 1024)}))
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

    const run = (mode) => {
      const r = spawnSync(process.execPath, [here, mode, server.url, correlationId], {encoding: 'utf8'})
      if (r.status !== 0) throw new Error(`${mode} failed: ${r.stderr}${r.stdout}`)
      return JSON.parse(r.stdout.trim().split('\n').pop())
    }
    const raw = []
    const scan = []
    for (let round = 0; round < ROUNDS; round++) {
      raw.push(run('raw'))
      scan.push(run('scan'))
      const [a, b] = [raw.at(-1), scan.at(-1)]
      console.log(
        `round ${round + 1}: raw ${rate(a)} msg/s (${a.ms.toFixed(0)}ms, RSS ${a.rss_mb} MiB)  ` +
          `scan ${rate(b)} msg/s (${b.ms.toFixed(0)}ms, RSS ${b.rss_mb} MiB)`,
      )
    }
    const medianRate = (xs) =>
      [...xs.map((x) => x.count / (x.ms / 1000))].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
    const rawRate = medianRate(raw)
    const scanRate = medianRate(scan)
    const ratio = scanRate / rawRate

    const bin = fileURLToPath(new URL('../bin/run.js', import.meta.url))
    const t = process.hrtime.bigint()
    const cli = spawnSync(
      process.execPath,
      [bin, 'workflow', 'show', correlationId, '--server', server.url, '--since', '0', '--json'],
      {
        encoding: 'utf8',
        env: {...process.env, NO_COLOR: '1', DVCTL_CONFIG: join(dir, 'none.yaml')},
        maxBuffer: 64 * 2 ** 20,
      },
    )
    const cliMs = Number(process.hrtime.bigint() - t) / 1e6
    if (cli.status !== 0) throw new Error(`dvctl workflow show exited ${cli.status}: ${cli.stderr}`)
    const shown = JSON.parse(cli.stdout)

    console.log(
      `raw ordered-consumer drain (median): ${Math.round(rawRate)} msg/s, peak RSS ${Math.max(...raw.map((r) => r.rss_mb))} MiB`,
    )
    console.log(
      `workflow scan (median):              ${Math.round(scanRate)} msg/s, peak RSS ${Math.max(...scan.map((r) => r.rss_mb))} MiB`,
    )
    console.log(`ratio scan/raw: ${ratio.toFixed(3)} (target >= 0.9)`)
    console.log(
      `dvctl workflow show --json end to end: ${(cliMs / 1000).toFixed(2)}s, ${shown.messages.length} messages, status ${shown.status}`,
    )
    process.exitCode = ratio >= 0.9 ? 0 : 1
  } finally {
    await server.dispose()
    await rm(dir, {recursive: true, force: true})
  }
}

function rate(r) {
  return Math.round(r.count / (r.ms / 1000))
}
