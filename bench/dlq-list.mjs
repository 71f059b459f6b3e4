#!/usr/bin/env node
// `dlq list` at scale (bench/README.md): `dvctl dlq list --json` over COUNT (default 100,000) real dead letters,
// measured as a whole process, must finish within 3x of a reference process measured in the same run. See
// dlq-fixture.mjs for how the dead letters are made (real terminated advisories, a failed task event per
// command; DV_CMD allows direct gets here). ROUNDS (default 3) times each, alternating, every one a fresh
// process timed from spawn to exit, with its peak RSS and CPU seconds (/usr/bin/time):
//   reference  bench/_dlq-list-reference.mjs: drains DV_DLQ with one ordered consumer and direct-gets each
//              original (128 in flight); nothing else
//   dvctl      `dvctl dlq list --status all --json`: advisories checked, originals read and checked against
//              them (provenance), failure events joined, ledger read, the whole list printed as JSON
// and once `dvctl dlq list --group-by type --json`. Exit 1 when dvctl's median is above 3x the reference's.
// Run `npm run build` first.
import {spawnSync} from 'node:child_process'
import {existsSync, readFileSync, rmSync} from 'node:fs'
import {loadavg, tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'

import {deadLetterSite} from './dlq-fixture.mjs'

const COUNT = Number(process.env.COUNT ?? 100_000)
const ROUNDS = Number(process.env.ROUNDS ?? 3)
const LIMIT = 3
const bin = fileURLToPath(new URL('../bin/run.js', import.meta.url))
const referenceScript = fileURLToPath(new URL('./_dlq-list-reference.mjs', import.meta.url))
const timeFile = join(tmpdir(), `dvctl-bench-dlq-time-${process.pid}`)
const useTime = existsSync('/usr/bin/time')

/** One whole process: wall seconds, CPU seconds (user + sys), peak RSS (MiB) and its parsed JSON output. */
function timed(argv) {
  const t = performance.now()
  const r = spawnSync(
    useTime ? '/usr/bin/time' : argv[0],
    useTime ? ['-o', timeFile, '-f', '%U %S %M', ...argv] : argv.slice(1),
    {
      encoding: 'utf8',
      maxBuffer: 1 << 30,
      env: {...process.env, NO_COLOR: '1', DVCTL_CONFIG: '/nonexistent/dvctl.yaml'},
    },
  )
  const s = (performance.now() - t) / 1000
  if (r.status !== 0) throw new Error(`${argv.slice(1, 4).join(' ')} exited ${r.status}: ${r.stderr}`)
  const [user, sys, rss] = useTime ? readFileSync(timeFile, 'utf8').trim().split(/\s+/).slice(-3).map(Number) : []
  rmSync(timeFile, {force: true})
  return {s, cpu: user + sys, rss: rss / 1024, json: JSON.parse(r.stdout)}
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
const t0 = performance.now()
const site = await deadLetterSite(COUNT, 'bench', {allowDirect: true})
console.log(`setup: ${COUNT} dead letters in ${((performance.now() - t0) / 1000).toFixed(1)}s`)
let failed = false
try {
  const dvctl = (...args) =>
    timed([process.execPath, bin, 'dlq', 'list', ...args, '--json', '--server', site.server.url])
  const refs = []
  const lists = []
  for (let round = 1; round <= ROUNDS; round++) {
    const reference = () => {
      const r = timed([process.execPath, referenceScript, site.server.url])
      if (r.json.originals !== COUNT) throw new Error(`reference read ${JSON.stringify(r.json)}`)
      refs.push(r)
    }
    const list = () => {
      const r = dvctl('--status', 'all')
      if (r.json.total !== COUNT) throw new Error(`dvctl listed ${r.json.total}`)
      lists.push(r)
    }
    if (round % 2) {
      reference()
      list()
    } else {
      list()
      reference()
    }
    const [a, b] = [refs.at(-1), lists.at(-1)]
    console.log(
      `round ${round}: reference ${a.s.toFixed(2)}s (cpu ${a.cpu.toFixed(2)}s, RSS ${a.rss.toFixed(0)} MiB)  ` +
        `dvctl dlq list ${b.s.toFixed(2)}s (cpu ${b.cpu.toFixed(2)}s, RSS ${b.rss.toFixed(0)} MiB)  ` +
        `${(b.s / a.s).toFixed(2)}x  load ${loadavg()[0].toFixed(1)}`,
    )
  }
  const grouped = dvctl('--group-by', 'type')
  console.log(
    `dvctl dlq list --group-by type: ${grouped.s.toFixed(2)}s (cpu ${grouped.cpu.toFixed(2)}s, RSS ${grouped.rss.toFixed(0)} MiB); ` +
      `groups: ${grouped.json.groups.map((g) => `${g.key}=${g.count}`).join(', ')}`,
  )
  const refS = median(refs.map((r) => r.s))
  const listS = median(lists.map((r) => r.s))
  const ratio = listS / refS
  console.log(
    `reference process (median): ${refS.toFixed(2)}s, peak RSS ${Math.max(...refs.map((r) => r.rss)).toFixed(0)} MiB`,
  )
  console.log(
    `dvctl dlq list --json (median): ${listS.toFixed(2)}s, peak RSS ${Math.max(...lists.map((r) => r.rss)).toFixed(0)} MiB`,
  )
  failed = ratio > LIMIT
  console.log(
    `${failed ? 'FAIL' : 'ok'}: dvctl dlq list at ${ratio.toFixed(2)}x the reference process (target <= ${LIMIT}x)`,
  )
} finally {
  await site.dispose()
}
process.exit(failed ? 1 : 0)
