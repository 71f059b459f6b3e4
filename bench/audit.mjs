#!/usr/bin/env node
// Auditing (bench/README.md): `contract audit` over a stream of MESSAGES stored envelopes (default 200,000),
// against the raw ordered-consumer drain of the same client on the same stream, in the same run.
//
// A private nats-server gets DV_CMD with realistic commands (about 330 bytes; every tenth without
// correlation_id, every hundredth with a payload breaking its schema). Then, alternating, each in its own
// child process so that peak RSS is its own:
//   raw    an ordered consumer (same batch size) drained to the end, touching each message's data
//   parse  the same drain, decoding and JSON.parse-ing each message's data and nothing else: the least that any
//          reader of every envelope does, so audit/raw can never be above parse/raw (the parse floor)
//   audit  auditContract() from dist/ (what `contract audit --json` runs): every message decoded and checked
// The audit parses and validates every message, so it is CPU-bound where the drain is not: the figure to
// watch is its rate and that its memory stays flat (counters, not messages). Run `npm run build` first.
import {spawnSync} from 'node:child_process'
import {randomUUID} from 'node:crypto'
import {mkdtemp, rm} from 'node:fs/promises'
import {loadavg, tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'

const here = fileURLToPath(import.meta.url)
const MESSAGES = Number(process.env.MESSAGES ?? 200_000)
const ROUNDS = Number(process.env.ROUNDS ?? 3)
const BATCH = 1000

const [mode, url] = process.argv.slice(2)
if (mode === 'raw' || mode === 'parse' || mode === 'audit') {
  await child(mode, url)
} else {
  await main()
}

async function child(mode, url) {
  const {connectSite} = await import('../dist/lib/nats/connection.js')
  const {auditContract} = await import('../dist/lib/contract/audit.js')
  await import('@nats-io/jetstream')
  const conn = await connectSite({name: 'bench', servers: [url]}, {timeoutMs: 10_000})
  const start = process.hrtime.bigint()
  const cpuStart = process.cpuUsage()
  let count = 0
  if (mode === 'raw' || mode === 'parse') {
    const decoder = new TextDecoder()
    let envelopes = 0
    const js = await conn.js()
    const jsm = await conn.jsm()
    const total = (await jsm.streams.info('DV_CMD')).state.messages
    const consumer = await js.consumers.get('DV_CMD', {opt_start_seq: 1})
    const messages = await consumer.consume({max_messages: BATCH})
    let bytes = 0
    for await (const m of messages) {
      bytes += m.data.length
      if (mode === 'parse' && typeof JSON.parse(decoder.decode(m.data)).id === 'string') envelopes++
      if (++count >= total) break
    }
    if (bytes === 0) throw new Error('no data')
    if (mode === 'parse' && envelopes !== count) throw new Error(`${envelopes} envelopes in ${count} messages`)
  } else {
    const result = await auditContract([conn], {window: {}, streams: ['DV_CMD'], batch: BATCH})
    count = result.scanned
    const sentral = result.services.find((s) => s.service === 'sentral')
    if (sentral?.rules.correlation.percent !== 10) throw new Error(`unexpected result ${JSON.stringify(sentral)}`)
  }
  const ms = Number(process.hrtime.bigint() - start) / 1e6
  const cpu = process.cpuUsage(cpuStart)
  await conn.close()
  const cpu_ms = (cpu.user + cpu.system) / 1000
  console.log(JSON.stringify({ms, cpu_ms, count, rss_mb: Math.round(process.resourceUsage().maxRSS / 1024)}))
}

async function main() {
  const {startNatsServer} = await import('../dist/lib/sandbox/nats-server.js')
  const {connect} = await import('@nats-io/transport-node')
  const {jetstreamManager} = await import('@nats-io/jetstream')

  const dir = await mkdtemp(join(tmpdir(), 'dvctl-bench-audit-'))
  const server = await startNatsServer({name: 'bench', dir: join(dir, 'server')})
  try {
    const nc = await connect({servers: server.url})
    const jsm = await jetstreamManager(nc)
    await jsm.streams.add({name: 'DV_CMD', subjects: ['dv.*.cmd.>']})
    const t0 = Date.now()
    for (let i = 0; i < MESSAGES; i++) {
      const envelope = {
        specversion: '1.0',
        id: randomUUID(),
        type: 'maskin.server.provision.requested',
        source: 'sentral',
        time: new Date(t0 + i).toISOString(),
        actor: 'user:bench',
        correlation_id: randomUUID(),
        tenant_id: 'acme',
        datacenter_id: 'osl1',
        data: i % 100 === 7 ? {profile: 'small'} : {server_id: `srv-${i}`, profile: 'small', note: 'noise'},
      }
      if (i % 10 === 3) delete envelope.correlation_id
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
    await nc.close()
    console.log(`DV_CMD: ${MESSAGES} messages, seeded in ${((Date.now() - t0) / 1000).toFixed(1)}s`)

    const run = (mode) => {
      // PROFILE=<dir>: a CPU profile of each measured child (node --cpu-prof), to see where the time goes.
      const prof = process.env.PROFILE ? ['--cpu-prof', '--cpu-prof-dir', process.env.PROFILE] : []
      const r = spawnSync(process.execPath, [...prof, here, mode, server.url], {encoding: 'utf8'})
      if (r.status !== 0) throw new Error(`${mode} failed: ${r.stderr}${r.stdout}`)
      return JSON.parse(r.stdout.trim().split('\n').pop())
    }
    const raw = []
    const parse = []
    const audit = []
    const line = (name, r) => `${name} ${rate(r)} msg/s (CPU ${r.cpu_ms.toFixed(0)}ms, RSS ${r.rss_mb} MiB)`
    for (let round = 0; round < ROUNDS; round++) {
      raw.push(run('raw'))
      parse.push(run('parse'))
      audit.push(run('audit'))
      console.log(
        `round ${round + 1}: ${line('raw', raw.at(-1))}  ${line('parse', parse.at(-1))}  ${line('audit', audit.at(-1))}; ` +
          `load average ${loadavg()[0].toFixed(1)}`,
      )
    }
    const median = (xs) => [...xs.map((x) => x.count / (x.ms / 1000))].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
    console.log(
      `raw ordered-consumer drain (median): ${Math.round(median(raw))} msg/s, peak RSS ${Math.max(...raw.map((r) => r.rss_mb))} MiB`,
    )
    console.log(
      `contract audit (median):             ${Math.round(median(audit))} msg/s, peak RSS ${Math.max(...audit.map((r) => r.rss_mb))} MiB`,
    )
    console.log(`ratio audit/raw: ${(median(audit) / median(raw)).toFixed(3)}`)
    console.log(
      `parse floor: drain + JSON.parse of every message at ${(median(parse) / median(raw)).toFixed(3)} of raw`,
    )
  } finally {
    await server.dispose()
    await rm(dir, {recursive: true, force: true})
  }
}

function rate(r) {
  return Math.round(r.count / (r.ms / 1000))
}
