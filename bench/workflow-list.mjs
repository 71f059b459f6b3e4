#!/usr/bin/env node
// Finding workflows (bench/README.md): `workflow list` over 1M messages against the raw ordered-consumer drain
// of the same three streams, in the same run, with peak RSS (memory grows with the number of workflows).
//
// A private nats-server gets MESSAGES envelopes as WORKFLOWS = MESSAGES / 5 workflows of five messages each:
// a command in DV_CMD, an event in DV_EVT, and created, started and a terminal task event in DV_TASK (one
// workflow in ten failed, one in twenty left running), interleaved so that many workflows are open at once.
// Then, alternating, each in its own child process so that peak RSS is its own:
//   raw   three ordered consumers (DV_CMD, DV_EVT, DV_TASK, same batch size) drained concurrently to the end,
//         touching each message's data
//   parse the same drain, decoding and JSON.parse-ing each message's data and nothing else: the least that any
//         reader of every envelope does, so list/raw can never be above parse/raw (the parse floor)
//   list  listWorkflows() from dist/ (what `workflow list --json` runs): DV_DLQ, then the three streams, every
//         message parsed and folded; the result holds every workflow
// and once the real CLI end to end: `dvctl workflow count --group-by status --json` and
// `dvctl workflow list --status failed --json`. Prints the ratio; exits 1 when the median list rate is below
// TARGET (default 0.5) of the median raw rate. Run `npm run build` first.
import {spawnSync} from 'node:child_process'
import {randomUUID} from 'node:crypto'
import {readFileSync} from 'node:fs'
import {mkdtemp, rm} from 'node:fs/promises'
import {loadavg, tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'

const here = fileURLToPath(import.meta.url)
const MESSAGES = Number(process.env.MESSAGES ?? 1_000_000)
const ROUNDS = Number(process.env.ROUNDS ?? 3)
const TARGET = Number(process.env.TARGET ?? 0.5)
const BATCH = 1000
const PER_WORKFLOW = 5
const WORKFLOWS = Math.floor(MESSAGES / PER_WORKFLOW)
const STREAMS = ['DV_CMD', 'DV_EVT', 'DV_TASK']

const [mode, url] = process.argv.slice(2)
if (mode === 'raw' || mode === 'parse' || mode === 'list') {
  await child(mode, url)
} else {
  await main()
}

/** One measured read, in its own process: prints {ms, count, workflows, rss_mb}. */
async function child(mode, url) {
  const {connectSite} = await import('../dist/lib/nats/connection.js')
  // Modules are loaded before the clock starts, for both modes: what is timed is the read.
  const {listWorkflows} = await import('../dist/lib/workflow/list.js')
  await import('@nats-io/jetstream')
  const conn = await connectSite({name: 'bench', servers: [url]}, {timeoutMs: 10_000})
  const start = process.hrtime.bigint()
  const cpuStart = process.cpuUsage()
  let count = 0
  let workflows = 0
  if (mode === 'raw' || mode === 'parse') {
    const js = await conn.js()
    const jsm = await conn.jsm()
    const decoder = new TextDecoder()
    await Promise.all(
      STREAMS.map(async (stream) => {
        const total = (await jsm.streams.info(stream)).state.messages
        const consumer = await js.consumers.get(stream, {opt_start_seq: 1})
        const messages = await consumer.consume({max_messages: BATCH})
        let n = 0
        let bytes = 0
        let envelopes = 0
        for await (const m of messages) {
          bytes += m.data.length
          if (mode === 'parse' && typeof JSON.parse(decoder.decode(m.data)).correlation_id === 'string') envelopes++
          if (++n >= total) break
        }
        if (bytes === 0) throw new Error('no data')
        if (mode === 'parse' && envelopes !== n) throw new Error(`${envelopes} envelopes in ${n} messages`)
        count += n
      }),
    )
  } else {
    const result = await listWorkflows([conn], {window: {}, batch: BATCH})
    count = result.scanned
    workflows = result.total
    if (workflows !== WORKFLOWS) throw new Error(`found ${workflows} workflows, expected ${WORKFLOWS}`)
  }
  const ms = Number(process.hrtime.bigint() - start) / 1e6
  const cpu = process.cpuUsage(cpuStart)
  const cpu_ms = (cpu.user + cpu.system) / 1000
  await conn.close()
  console.log(JSON.stringify({ms, cpu_ms, count, workflows, rss_mb: Math.round(process.resourceUsage().maxRSS / 1024)}))
}

async function main() {
  const {startNatsServer} = await import('../dist/lib/sandbox/nats-server.js')
  const {connect} = await import('@nats-io/transport-node')
  const {jetstreamManager} = await import('@nats-io/jetstream')
  const {SERVICES} = await import('../dist/lib/contract/services.js')

  const dir = await mkdtemp(join(tmpdir(), 'dvctl-bench-wflist-'))
  const server = await startNatsServer({name: 'bench', dir: join(dir, 'server'), extraConfig: 'max_payload: 1MB'})
  try {
    const nc = await connect({servers: server.url})
    const jsm = await jetstreamManager(nc)
    await jsm.streams.add({name: 'DV_CMD', subjects: ['dv.*.cmd.>']})
    await jsm.streams.add({name: 'DV_EVT', subjects: SERVICES.map((s) => `dv.${s}.evt.>`)})
    await jsm.streams.add({name: 'DV_TASK', subjects: ['dv.task.evt.>']})
    await jsm.streams.add({name: 'DV_DLQ', subjects: ['$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.>']})

    const t0 = Date.now()
    const base = t0 - 3_600_000
    // Workflows are started in waves of OPEN; each message of a wave goes out step by step, so a workflow's
    // five messages are spread over OPEN * 5 stored messages.
    const OPEN = 1000
    let sent = 0
    const publish = async (subject, envelope) => {
      nc.publish(subject, JSON.stringify(envelope))
      if (++sent % 10_000 === 0) await nc.flush()
    }
    for (let wave = 0; wave < WORKFLOWS; wave += OPEN) {
      const ids = []
      for (let i = wave; i < Math.min(wave + OPEN, WORKFLOWS); i++)
        ids.push({i, correlation: randomUUID(), cmd: randomUUID()})
      for (let step = 0; step < PER_WORKFLOW; step++) {
        for (const {i, correlation, cmd} of ids) {
          const time = new Date(base + i * 10 + step).toISOString()
          const common = {
            specversion: '1.0',
            time,
            actor: 'user:bench',
            correlation_id: correlation,
            tenant_id: `t${i % 17}`,
          }
          const task = `task-${i}`
          const terminal = i % 10 === 0 ? 'failed' : i % 20 === 5 ? null : 'succeeded'
          if (step === 0) {
            await publish('dv.maskin.cmd.provision', {
              ...common,
              id: cmd,
              type: 'maskin.server.provision.requested',
              source: 'sentral',
              datacenter_id: 'osl1',
              data: {server_id: `srv-${i}`, profile: 'small'},
            })
          } else if (step === 3) {
            await publish('dv.maskin.evt.server.provisioned', {
              ...common,
              id: randomUUID(),
              type: 'maskin.server.provisioned',
              source: 'maskin',
              causation_id: cmd,
              subject: `srv-${i}`,
              data: {server_id: `srv-${i}`},
            })
          } else {
            const verb = step === 1 ? 'created' : step === 2 ? 'started' : (terminal ?? 'progress')
            await publish(`dv.task.evt.${verb}`, {
              ...common,
              id: randomUUID(),
              type: `task.${verb}`,
              source: 'maskin',
              causation_id: cmd,
              subject: task,
              data: {task_id: task, state: verb, ...(verb === 'failed' ? {error: {code: 'x', message: 'boom'}} : {})},
            })
          }
        }
      }
    }
    await nc.flush()
    for (;;) {
      let n = 0
      for (const s of STREAMS) n += (await jsm.streams.info(s)).state.messages
      if (n >= WORKFLOWS * PER_WORKFLOW) break
      if (Date.now() - t0 > 900_000) throw new Error(`streams hold ${n} of ${WORKFLOWS * PER_WORKFLOW} messages`)
      await new Promise((r) => setTimeout(r, 200))
    }
    let bytes = 0
    for (const s of STREAMS) bytes += (await jsm.streams.info(s)).state.bytes
    await nc.close()
    console.log(
      `${WORKFLOWS * PER_WORKFLOW} messages in DV_CMD, DV_EVT, DV_TASK (${(bytes / 2 ** 20).toFixed(0)} MiB), ` +
        `${WORKFLOWS} workflows, seeded in ${((Date.now() - t0) / 1000).toFixed(1)}s`,
    )

    const run = (mode) => {
      // PROFILE=<dir>: a CPU profile of each measured child (node --cpu-prof), to see where the time goes.
      const prof = process.env.PROFILE ? ['--cpu-prof', '--cpu-prof-dir', process.env.PROFILE] : []
      const r = spawnSync(process.execPath, [...prof, here, mode, server.url], {encoding: 'utf8'})
      if (r.status !== 0) throw new Error(`${mode} failed: ${r.stderr}${r.stdout}`)
      return JSON.parse(r.stdout.trim().split('\n').pop())
    }
    // The server's own CPU time while a child reads (Linux): with the client on one core, what is left of the rest.
    const serverCpuMs = () => {
      try {
        const fields = readFileSync(`/proc/${server.pid}/stat`, 'utf8').split(') ')[1].split(' ')
        return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100
      } catch {
        return NaN
      }
    }
    const measured = (mode) => {
      const before = serverCpuMs()
      const r = run(mode)
      return {...r, server_cpu_ms: serverCpuMs() - before}
    }
    const raw = []
    const parse = []
    const list = []
    const line = (name, r) =>
      `${name} ${rate(r)} msg/s (${r.ms.toFixed(0)}ms, CPU ${r.cpu_ms.toFixed(0)}ms, RSS ${r.rss_mb} MiB, server CPU ${r.server_cpu_ms.toFixed(0)}ms)`
    for (let round = 0; round < ROUNDS; round++) {
      raw.push(measured('raw'))
      parse.push(measured('parse'))
      list.push(measured('list'))
      console.log(
        `round ${round + 1}: ${line('raw', raw.at(-1))}  ${line('parse', parse.at(-1))}  ${line('list', list.at(-1))}; ` +
          `load average ${loadavg()[0].toFixed(1)}`,
      )
    }
    const medianRate = (xs) =>
      [...xs.map((x) => x.count / (x.ms / 1000))].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
    const rawRate = medianRate(raw)
    const listRate = medianRate(list)
    const parseRate = medianRate(parse)
    const ratio = listRate / rawRate
    const rawRss = Math.max(...raw.map((r) => r.rss_mb))
    const listRss = Math.max(...list.map((r) => r.rss_mb))

    const bin = fileURLToPath(new URL('../bin/run.js', import.meta.url))
    const cli = (args) => {
      const t = process.hrtime.bigint()
      const out = spawnSync(
        '/usr/bin/time',
        ['-f', 'maxrss_kb=%M', process.execPath, bin, ...args, '--server', server.url, '--since', '0', '--json'],
        {
          encoding: 'utf8',
          env: {...process.env, NO_COLOR: '1', DVCTL_CONFIG: join(dir, 'none.yaml')},
          maxBuffer: 512 * 2 ** 20,
        },
      )
      const ms = Number(process.hrtime.bigint() - t) / 1e6
      if (out.status !== 0) throw new Error(`dvctl ${args.join(' ')} exited ${out.status}: ${out.stderr}`)
      const rss = Number(/maxrss_kb=(\d+)/.exec(out.stderr)?.[1] ?? NaN) / 1024
      return {ms, rss, json: JSON.parse(out.stdout)}
    }
    const count = cli(['workflow', 'count', '--group-by', 'status'])
    const failed = cli(['workflow', 'list', '--status', 'failed'])

    console.log(`raw ordered-consumer drain (median): ${Math.round(rawRate)} msg/s, peak RSS ${rawRss} MiB`)
    console.log(`workflow list (median):              ${Math.round(listRate)} msg/s, peak RSS ${listRss} MiB`)
    console.log(
      `memory: ${(((listRss - rawRss) * 1024) / WORKFLOWS).toFixed(2)} KiB per workflow above the raw drain ` +
        `(${WORKFLOWS} workflows, each kept as a summary and returned in the result)`,
    )
    console.log(`ratio list/raw: ${ratio.toFixed(3)} (target >= ${TARGET})`)
    console.log(`parse floor: drain + JSON.parse of every message at ${(parseRate / rawRate).toFixed(3)} of raw`)
    console.log(
      `dvctl workflow count --group-by status --json: ${(count.ms / 1000).toFixed(2)}s, peak RSS ${count.rss.toFixed(0)} MiB, ` +
        count.json.groups.map((g) => `${g.key}=${g.count}`).join(' '),
    )
    console.log(
      `dvctl workflow list --status failed --json: ${(failed.ms / 1000).toFixed(2)}s, peak RSS ${failed.rss.toFixed(0)} MiB, ` +
        `${failed.json.total} workflows`,
    )
    process.exitCode = ratio >= TARGET ? 0 : 1
  } finally {
    await server.dispose()
    await rm(dir, {recursive: true, force: true})
  }
}

function rate(r) {
  return Math.round(r.count / (r.ms / 1000))
}
