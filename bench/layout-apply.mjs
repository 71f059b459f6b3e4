#!/usr/bin/env node
// `layout apply` of an unchanged 50-stream layout (bench/README.md): no writes, about one round trip
// per object, concurrently. A private nats-server gets the layout once; then `dvctl layout apply --yes
// --json` runs again over the unchanged site while a monitoring connection counts every JetStream API
// request ($JS.API.>) by kind. Reference, same run: `dvctl site check` against the same server (process
// start-up + connect + one round trip), so the ratio is what reading and diffing 100 objects costs on top.
// Fails (exit 1) when the unchanged apply issues any write request. Run `npm run build` first.
import {spawnSync} from 'node:child_process'
import {mkdtemp, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'

import {connect} from '@nats-io/transport-node'

import {startNatsServer} from '../dist/lib/sandbox/nats-server.js'

const STREAMS = Number(process.env.STREAMS ?? 50)
const RUNS = Number(process.env.RUNS ?? 7)
const bin = fileURLToPath(new URL('../bin/run.js', import.meta.url))
// Write requests: anything that creates, changes or deletes server state.
const WRITE =
  /^\$JS\.API\.(STREAM\.(CREATE|UPDATE|DELETE|PURGE|MSG\.DELETE|SNAPSHOT|RESTORE)|CONSUMER\.(CREATE|DURABLE\.CREATE|DELETE))\b/

const dir = await mkdtemp(join(tmpdir(), 'dvctl-bench-layout-'))
const server = await startNatsServer({name: 'bench', dir: join(dir, 'server')})
const env = {...process.env, NO_COLOR: '1', DVCTL_CONFIG: join(dir, 'none.yaml'), NATS_URL: server.url}

function dvctl(args) {
  const t = process.hrtime.bigint()
  const r = spawnSync(process.execPath, [bin, ...args, '--server', server.url], {env, encoding: 'utf8'})
  const ms = Number(process.hrtime.bigint() - t) / 1e6
  if (r.status !== 0) throw new Error(`dvctl ${args.join(' ')} exited ${r.status}: ${r.stderr}${r.stdout}`)
  return {ms, stdout: r.stdout}
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]

try {
  const streams = {}
  for (let i = 0; i < STREAMS; i++) {
    streams[`BENCH_${i}`] = {
      subjects: [`bench.${i}.>`],
      retention: 'limits',
      storage: 'file',
      max_age: '1d',
      duplicate_window: '2m',
      consumers: {
        [`worker_${i}`]: {filter_subject: `bench.${i}.cmd`, ack_policy: 'explicit', max_deliver: 5, ack_wait: '30s'},
      },
    }
  }
  const layoutFile = join(dir, 'layout.json')
  await writeFile(layoutFile, JSON.stringify({layout: 'bench', streams}, null, 2))
  const objects = STREAMS * 2

  const first = JSON.parse(dvctl(['layout', 'apply', layoutFile, '--yes', '--json']).stdout)
  const created = first.changes.filter((c) => c.action === 'create').length
  if (created !== objects) throw new Error(`first apply created ${created} objects, expected ${objects}`)

  // Monitoring connection: sees every JetStream API request the CLI makes (same account).
  const monitor = await connect({servers: server.url, name: 'bench-monitor'})
  let counts = new Map()
  const sub = monitor.subscribe('$JS.API.>', {
    callback: (_err, msg) => {
      const kind = msg.subject
        .replace(/^\$JS\.API\./, '')
        .replace(/^(STREAM|CONSUMER)\.(\w+(\.\w+)?).*$/, (m, a, b) => {
          const verb = b.split('.')[0]
          return `${a}.${verb === 'DURABLE' ? b : verb}`
        })
      counts.set(kind, (counts.get(kind) ?? 0) + 1)
      if (WRITE.test(msg.subject)) writes.push(msg.subject)
    },
  })
  const writes = []
  await monitor.flush()

  const applyTimes = []
  let last
  for (let i = 0; i < RUNS; i++) {
    counts = new Map()
    const run = dvctl(['layout', 'apply', layoutFile, '--yes', '--json'])
    await monitor.flush()
    applyTimes.push(run.ms)
    last = {result: JSON.parse(run.stdout), counts}
  }
  const checkTimes = []
  for (let i = 0; i < RUNS; i++) checkTimes.push(dvctl(['site', 'check', '--json']).ms)
  sub.unsubscribe()
  await monitor.close()

  const changed = last.result.changes.filter((c) => c.action !== 'noop').length
  const requests = [...last.counts.values()].reduce((a, b) => a + b, 0)
  const apply = median(applyTimes)
  const check = median(checkTimes)
  console.log(
    `layout apply, unchanged ${STREAMS} streams + ${STREAMS} consumers (${objects} objects), median of ${RUNS}`,
  )
  console.log(`  dvctl site check (reference): ${check.toFixed(1)} ms`)
  console.log(`  dvctl layout apply --yes:     ${apply.toFixed(1)} ms, ${(apply / check).toFixed(2)}x site check`)
  console.log(`  changes reported: ${changed}; applied: ${last.result.applied}`)
  console.log(
    `  JetStream API requests per run: ${requests} (${(requests / objects).toFixed(2)} per object): ` +
      [...last.counts.entries()].map(([k, v]) => `${k} ${v}`).join(', '),
  )
  console.log(
    `  write requests across ${RUNS} runs: ${writes.length}${writes.length ? ` (${writes.slice(0, 5).join(', ')})` : ''}`,
  )
  const ok = writes.length === 0 && changed === 0
  console.log(`  target: zero writes and no changes ${ok ? 'ok' : 'MISSED'}`)
  process.exitCode = ok ? 0 : 1
} finally {
  await server.dispose()
  await rm(dir, {recursive: true, force: true})
}
