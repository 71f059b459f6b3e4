#!/usr/bin/env node
// `dvctl metrics serve` memory over SCRAPES (default 10,000) scrapes of a site with COUNT (default 10,000) dead
// letters (bench/README.md: "memory stays flat"). The exporter runs as its own process (bin/run.js) against a
// private nats-server made by dlq-fixture.mjs (real terminated advisories, a failed task event per command),
// collecting every INTERVAL (default 500ms) while this script scrapes /metrics back to back. Every STEP
// scrapes it records the exporter's RSS (/proc/<pid>/status VmRSS) and adds NEW (default 10) fresh dead letters,
// so the incremental reads (DV_DLQ, ledger, DV_TASK after the last sequence) run throughout.
// Prints the RSS series; exits 1 when RSS after the last scrape is more than LIMIT (default 1.25) times the
// RSS after the first STEP. Run `npm run build` first.
import {spawn} from 'node:child_process'
import {readFileSync} from 'node:fs'
import {createServer} from 'node:net'
import {cpus, loadavg, totalmem} from 'node:os'
import {fileURLToPath} from 'node:url'

/* global fetch */

import {deadLetterSite} from './dlq-fixture.mjs'

const COUNT = Number(process.env.COUNT ?? 10_000)
const SCRAPES = Number(process.env.SCRAPES ?? 10_000)
const STEP = Number(process.env.STEP ?? 1000)
const NEW = Number(process.env.NEW ?? 10)
const INTERVAL = process.env.INTERVAL ?? '500ms'
const LIMIT = Number(process.env.LIMIT ?? 1.25)
const bin = fileURLToPath(new URL('../bin/run.js', import.meta.url))

const rssMiB = (pid) => {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return m ? Number(m[1]) / 1024 : NaN
}
const freePort = () =>
  new Promise((resolve) => {
    const s = createServer()
    s.listen(0, '127.0.0.1', () => {
      const {port} = s.address()
      s.close(() => resolve(port))
    })
  })
const sample = (text, series) => {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `))
  return line === undefined ? undefined : Number(line.slice(series.length + 1))
}

console.log(
  `machine: ${cpus().length} x ${cpus()[0]?.model}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB, Node ${process.version}; load ${loadavg()
    .map((l) => l.toFixed(1))
    .join(' ')}`,
)
const t0 = performance.now()
const site = await deadLetterSite(COUNT)
console.log(`setup: ${COUNT} dead letters in ${((performance.now() - t0) / 1000).toFixed(1)}s`)

const port = await freePort()
const child = spawn(
  process.execPath,
  [bin, 'metrics', 'serve', '--server', site.server.url, '--listen', `127.0.0.1:${port}`, '--interval', INTERVAL],
  {stdio: ['ignore', 'ignore', 'pipe'], env: {...process.env, DVCTL_CONFIG: '/nonexistent/dvctl-bench.yaml'}},
)
let stderr = ''
child.stderr.on('data', (d) => (stderr += d))
const url = `http://127.0.0.1:${port}/metrics`
const started = performance.now()
for (;;) {
  const ok = await fetch(url).then(
    (r) => r.ok,
    () => false,
  )
  if (ok) break
  if (child.exitCode !== null) throw new Error(`metrics serve exited ${child.exitCode}: ${stderr}`)
  await new Promise((r) => setTimeout(r, 100))
}
const firstText = await (await fetch(url)).text()
const pending0 = sample(
  firstText,
  'dvctl_site_dead_letters_pending{site="127.0.0.1:' + new URL(site.server.url).port + '"}',
)
console.log(
  `first collection (listening) after ${((performance.now() - started) / 1000).toFixed(1)}s: ${pending0} pending, ${firstText.length} bytes of exposition`,
)

const consumer = await site.js.consumers.get('DV_CMD', 'worker')
const rows = []
let added = 0
const t1 = performance.now()
for (let i = 1; i <= SCRAPES; i++) {
  const res = await fetch(url)
  await res.text()
  if (res.status !== 200) throw new Error(`scrape ${i}: HTTP ${res.status}`)
  if (i % STEP === 0) {
    rows.push({scrapes: i, rss: rssMiB(child.pid), seconds: (performance.now() - t1) / 1000})
    // A few fresh dead letters, so that the next rounds read new advisories incrementally.
    for (let k = 0; k < NEW; k++)
      await site.js.publish('dv.maskin.cmd.provision', JSON.stringify({id: `bench-${i}-${k}`, type: 'x'}))
    let termed = 0
    while (termed < NEW) {
      for await (const m of await consumer.fetch({max_messages: NEW, expires: 2000})) {
        m.term()
        termed++
      }
    }
    added += NEW
  }
}
const elapsed = (performance.now() - t1) / 1000
const lastText = await (await fetch(url)).text()
const rounds = sample(
  lastText,
  `dvctl_dead_letter_advisories_read_total{site="127.0.0.1:${new URL(site.server.url).port}"}`,
)
child.kill('SIGTERM')
const code = await new Promise((r) => child.on('exit', (c) => r(c)))
await site.dispose()

console.log('scrapes  RSS MiB  elapsed s')
for (const r of rows)
  console.log(`${String(r.scrapes).padStart(7)}  ${r.rss.toFixed(1).padStart(7)}  ${r.seconds.toFixed(1).padStart(9)}`)
const first = rows[0].rss
const last = rows.at(-1).rss
const peak = Math.max(...rows.map((r) => r.rss))
console.log(
  `${SCRAPES} scrapes in ${elapsed.toFixed(1)}s (${(SCRAPES / elapsed).toFixed(0)}/s); ${added} dead letters added meanwhile; advisories read ${rounds}; RSS first ${first.toFixed(1)} MiB, last ${last.toFixed(1)} MiB (${(last / first).toFixed(3)}x), peak ${peak.toFixed(1)} MiB; exporter exit ${code}; load ${loadavg()
    .map((l) => l.toFixed(1))
    .join(' ')}`,
)
process.exit(last <= first * LIMIT && code === 0 ? 0 : 1)
