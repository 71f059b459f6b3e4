#!/usr/bin/env node
// Replay (bench/README.md): `dvctl dlq replay --all --yes` of COUNT (default 10,000) dead letters, measured as a
// whole process, must reach 0.8x of a reference process measured in the same run. See dlq-fixture.mjs for the
// dead letters (real terminated advisories). ROUNDS (default 7: single rounds vary by a quarter) rounds, each on
// a fresh site (COUNT pending dead letters, an empty ledger), each side once per round in rotating order, every
// one a fresh process timed from spawn to exit (start-up, connect, reads and writes all included):
//   reference  bench/_replay-reference.mjs: reads the same COUNT originals (one ordered consumer) and publishes
//              them to their subjects, Nats-Msg-Id set, 256 acks in flight; no ledger
//   floor      bench/_replay-reference.mjs with `advisories`: the reference plus reading the COUNT advisories
//              of DV_DLQ first, with the same client calls: a replay cannot skip that read, and the floor does
//              nothing else (no checks, ledger, job or output). The reference over the floor shows how much of
//              the target that read takes by itself.
//   dvctl      `dvctl dlq replay --all --yes --json`: lists the pending dead letters, checks each original
//              against its advisory, plans, writes the ledger (a journal per chunk, before and after) and
//              publishes the copies pipelined
// The ratio is the reference's median wall time over dvctl's; the floor's over dvctl's is printed beside it (dvctl
// against the reads and sends every replay needs, and nothing else). Peak RSS via /usr/bin/time when present.
// PROFILE=<dir> writes a CPU profile of each measured child there.
// Exit 1 when the ratio is below 0.8. Run `npm run build` first.
import {spawnSync} from 'node:child_process'
import {existsSync, readFileSync, rmSync} from 'node:fs'
import {loadavg, tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'

import {deadLetterSite} from './dlq-fixture.mjs'

const COUNT = Number(process.env.COUNT ?? 10_000)
const ROUNDS = Number(process.env.ROUNDS ?? 7)
const TARGET = 0.8
const bin = fileURLToPath(new URL('../bin/run.js', import.meta.url))
const referenceScript = fileURLToPath(new URL('./_replay-reference.mjs', import.meta.url))
const timeFile = join(tmpdir(), `dvctl-bench-replay-time-${process.pid}`)
const useTime = existsSync('/usr/bin/time')

/** Runs one process to its exit: wall seconds, CPU seconds (user + sys), peak RSS (MiB) and its parsed JSON output. */
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
  if (r.status !== 0) throw new Error(`${argv.slice(1).join(' ')} exited ${r.status}: ${r.stderr}`)
  const [user, sys, rss] = useTime ? readFileSync(timeFile, 'utf8').trim().split(/\s+/).slice(-3).map(Number) : []
  rmSync(timeFile, {force: true})
  return {s, cpu: user + sys, rss: rss / 1024, json: JSON.parse(r.stdout)}
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]

let failed = false
const refs = []
const floors = []
const runs = []
for (let round = 1; round <= ROUNDS; round++) {
  // A fresh site each round: COUNT pending dead letters, an empty ledger, the copies' first generation.
  const t0 = performance.now()
  const site = await deadLetterSite(COUNT)
  const setupS = (performance.now() - t0) / 1000
  try {
    // PROFILE=<dir>: a CPU profile of each measured child (node --cpu-prof), to see where the time goes.
    const prof = process.env.PROFILE ? ['--cpu-prof', '--cpu-prof-dir', process.env.PROFILE] : []
    // The reference, or with `advisories` the floor (bench/_replay-reference.mjs).
    const plain = (mode) => () => {
      const argv = [process.execPath, ...prof, referenceScript, site.server.url, String(COUNT), String(round)]
      const r = timed(mode ? [...argv, mode] : argv)
      if (r.json.published !== COUNT) throw new Error(`${mode ?? 'reference'} published ${r.json.published}`)
      return r
    }
    const reference = plain()
    const floor = plain('advisories')
    const dvctl = () => {
      const r = timed([
        process.execPath,
        ...prof,
        bin,
        'dlq',
        'replay',
        '--all',
        '--yes',
        '--json',
        '--server',
        site.server.url,
      ])
      if (r.json.replayed.length !== COUNT || r.json.replayed.some((x) => x.duplicate))
        throw new Error(`dvctl replayed ${r.json.replayed.length}: ${JSON.stringify(r.json.failed[0])}`)
      return r
    }
    // Rotating which goes first, so that a growing DV_CMD or drift in the load hits each side alike.
    const sides = {reference, floor, dvctl}
    const order = ['reference', 'floor', 'dvctl']
    const measured = {}
    for (let i = 0; i < order.length; i++) {
      const side = order[(i + round - 1) % order.length]
      measured[side] = sides[side]()
    }
    const {reference: ref, floor: low, dvctl: run} = measured
    refs.push(ref)
    floors.push(low)
    runs.push(run)
    console.log(
      `round ${round} (setup ${setupS.toFixed(1)}s): reference ${ref.s.toFixed(2)}s (cpu ${ref.cpu.toFixed(2)}s, RSS ${ref.rss.toFixed(0)} MiB)  ` +
        `floor ${low.s.toFixed(2)}s (cpu ${low.cpu.toFixed(2)}s)  dvctl ${run.s.toFixed(2)}s (cpu ${run.cpu.toFixed(2)}s, RSS ${run.rss.toFixed(0)} MiB)  ratio ${(ref.s / run.s).toFixed(2)} (floor ${(ref.s / low.s).toFixed(2)})  ` +
        `load ${loadavg()[0].toFixed(1)}`,
    )
  } finally {
    await site.dispose()
  }
}
const refS = median(refs.map((r) => r.s))
const floorS = median(floors.map((r) => r.s))
const runS = median(runs.map((r) => r.s))
const ratio = refS / runS
console.log(
  `reference process (median of ${ROUNDS}): ${refS.toFixed(2)}s = ${Math.round(COUNT / refS)}/s, ` +
    `peak RSS ${Math.max(...refs.map((r) => r.rss)).toFixed(0)} MiB`,
)
console.log(
  `floor process (median of ${ROUNDS}): ${floorS.toFixed(2)}s = ${Math.round(COUNT / floorS)}/s: ` +
    `the reference over the floor is ${(refS / floorS).toFixed(2)}x (the floor: the reference plus reading the advisories)`,
)
console.log(
  `dvctl dlq replay --all --yes (median of ${ROUNDS}): ${runS.toFixed(2)}s = ${Math.round(COUNT / runS)}/s, ` +
    `peak RSS ${Math.max(...runs.map((r) => r.rss)).toFixed(0)} MiB; ${((runS - floorS) * 1000).toFixed(0)} ms above the floor, ` +
    `where ${TARGET}x leaves ${((refS / TARGET - floorS) * 1000).toFixed(0)} ms; ${(floorS / runS).toFixed(2)}x the floor process`,
)
failed = ratio < TARGET
console.log(
  `${failed ? 'FAIL' : 'ok'}: dvctl replay at ${ratio.toFixed(2)}x the reference process (target >= ${TARGET}x)`,
)
process.exit(failed ? 1 : 0)
