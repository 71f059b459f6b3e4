#!/usr/bin/env node
// `dlq list` over COUNT (default 10,000) real dead letters (bench/README.md: "10k dead letters listed
// and grouped in seconds"). See dlq-fixture.mjs for how they are made (real terminated advisories, a
// failed task event per command). Measures, on the same server:
//   service  listDeadLetters() from dist/ in this process (advisories, 10k original gets, failure join,
//            ledger), with the process's peak RSS as the memory figure
//   cli      `dvctl dlq list --json` and `dvctl dlq list --group-by type --json`, end to end
// Exit 1 when the CLI takes more than LIMIT_S seconds (default 10). Run `npm run build` first.
import {spawnSync} from 'node:child_process'
import {existsSync, readFileSync, rmSync} from 'node:fs'
import {loadavg, tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'

import {deadLetterSite} from './dlq-fixture.mjs'
import {connectSite} from '../dist/lib/nats/connection.js'
import {listDeadLetters} from '../dist/lib/dlq/list.js'

const COUNT = Number(process.env.COUNT ?? 10_000)
const LIMIT_S = Number(process.env.LIMIT_S ?? 10)
const bin = fileURLToPath(new URL('../bin/run.js', import.meta.url))

const t0 = performance.now()
const site = await deadLetterSite(COUNT)
console.log(`setup: ${COUNT} dead letters in ${((performance.now() - t0) / 1000).toFixed(1)}s`)

// CPU seconds (user + sys) of the child too, via /usr/bin/time when present: on a shared, loaded machine the
// wall clock mostly measures waiting for a core.
const timeFile = join(tmpdir(), `dvctl-bench-dlq-time-${process.pid}`)
const useTime = existsSync('/usr/bin/time')

function cli(args) {
  const t = performance.now()
  const argv = [process.execPath, bin, ...args, '--server', site.server.url, '--json']
  const r = spawnSync(
    useTime ? '/usr/bin/time' : argv[0],
    useTime ? ['-o', timeFile, '-f', '%U %S', ...argv] : argv.slice(1),
    {
      encoding: 'utf8',
      maxBuffer: 1 << 30,
      env: {...process.env, NO_COLOR: '1', DVCTL_CONFIG: '/nonexistent/dvctl.yaml'},
    },
  )
  if (r.status !== 0) throw new Error(`dvctl ${args.join(' ')} exited ${r.status}: ${r.stderr}`)
  const cpu = useTime ? readFileSync(timeFile, 'utf8').trim().split(/\s+/).slice(-2).map(Number) : [NaN, NaN]
  rmSync(timeFile, {force: true})
  return {s: (performance.now() - t) / 1000, cpu: cpu[0] + cpu[1], json: JSON.parse(r.stdout)}
}

let failed = false
try {
  const conn = await connectSite({name: 'bench', servers: [site.server.url]}, {timeoutMs: 10_000})
  const rss0 = process.memoryUsage().rss
  const t = performance.now()
  const result = await listDeadLetters(
    {connections: [conn], sites: [{site: 'bench', url: site.server.url}], failures: []},
    {groupBy: 'type'},
  )
  const serviceS = (performance.now() - t) / 1000
  const rssMb = process.resourceUsage().maxRSS / 1024
  await conn.close()
  if (result.total !== COUNT) throw new Error(`listed ${result.total}, expected ${COUNT}`)
  const withFailure = result.dead_letters.filter((d) => d.failure).length
  console.log(
    `service: ${COUNT} dead letters in ${serviceS.toFixed(2)}s (${Math.round(COUNT / serviceS)}/s), ` +
      `${withFailure} with failure joined, peak RSS ${rssMb.toFixed(0)} MiB (${(rss0 / 2 ** 20).toFixed(0)} MiB before)`,
  )

  const list = cli(['dlq', 'list'])
  const grouped = cli(['dlq', 'list', '--group-by', 'type'])
  if (list.json.total !== COUNT) throw new Error(`CLI listed ${list.json.total}`)
  console.log(
    `cli: dlq list ${list.s.toFixed(2)}s (cpu ${list.cpu.toFixed(2)}s), ` +
      `dlq list --group-by type ${grouped.s.toFixed(2)}s (cpu ${grouped.cpu.toFixed(2)}s); ` +
      `load average ${loadavg()[0].toFixed(1)}`,
  )
  console.log(`groups: ${grouped.json.groups.map((g) => `${g.key}=${g.count}`).join(', ')}`)
  const worst = Math.max(list.s, grouped.s)
  failed = worst > LIMIT_S
  console.log(`${failed ? 'FAIL' : 'ok'}: ${worst.toFixed(2)}s for ${COUNT} dead letters (limit ${LIMIT_S}s)`)
} finally {
  await site.dispose()
}
process.exit(failed ? 1 : 0)
