#!/usr/bin/env node
// Start-up benchmark (bench/README.md, "start-up"): `dvctl --version`, `dvctl --help`, EVERY command's `--help`
// (the ids of oclif.manifest.json) and `dvctl contract subject dv.maskin.cmd.provision`, each against `node -e 0`
// measured in the same run. Targets: --help and contract subject within 2.0x, --version near 1x (within 1.3x).
// Run `npm run build` first.
//
// Runs are interleaved: each round runs every case once, in the same order, so a change in the machine's load
// touches every case alike; the figure per case is the median of its RUNS rounds (default 15), after two
// warm-up rounds that fill the page cache. Besides the wall time, the CPU time (user + system) of each case is
// reported, as the mean over its rounds (Linux: the children's times in /proc/self/stat): it moves less than
// the wall time when other work shares the machine. Exits 1 when a case misses its target.
import {spawnSync} from 'node:child_process'
import {readFileSync} from 'node:fs'
import {loadavg} from 'node:os'
import {fileURLToPath} from 'node:url'

const RUNS = Number(process.env.RUNS ?? 15)
const WARMUP = 2
const bin = fileURLToPath(new URL('../bin/run.js', import.meta.url))
const manifest = JSON.parse(readFileSync(new URL('../oclif.manifest.json', import.meta.url), 'utf8'))
const env = {...process.env, NO_COLOR: '1'}
delete env.NODE_ENV

const HELP_TARGET = 2.0
const VERSION_TARGET = 1.3

const cases = [
  {name: 'node -e 0', args: ['-e', '0']},
  {name: 'dvctl --version', args: [bin, '--version'], target: VERSION_TARGET},
  {name: 'dvctl --help', args: [bin, '--help'], target: HELP_TARGET},
  {
    name: 'dvctl contract subject dv.maskin.cmd.provision',
    args: [bin, 'contract', 'subject', 'dv.maskin.cmd.provision'],
    target: HELP_TARGET,
  },
  ...Object.keys(manifest.commands)
    .sort()
    .map((id) => ({
      name: `dvctl ${id.replaceAll(':', ' ')} --help`,
      args: [bin, ...id.split(':'), '--help'],
      target: HELP_TARGET,
    })),
]

/** The CPU time (ms) of this process's waited-for children so far, or undefined off Linux. */
function childrenCpuMs() {
  try {
    // Fields after the command name (which may hold spaces): cutime and cstime are the 14th and 15th of them.
    const stat = readFileSync('/proc/self/stat', 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return ((Number(fields[13]) + Number(fields[14])) * 1000) / 100 // USER_HZ is 100 on Linux
  } catch {
    return undefined
  }
}

for (const c of cases) Object.assign(c, {wall: [], cpu: 0})
const loadBefore = loadavg()[0]
const started = Date.now()
for (let round = 0; round < RUNS + WARMUP; round++) {
  for (const c of cases) {
    const cpuBefore = childrenCpuMs()
    const t = process.hrtime.bigint()
    const r = spawnSync(process.execPath, c.args, {env, stdio: ['ignore', 'ignore', 'pipe']})
    const ms = Number(process.hrtime.bigint() - t) / 1e6
    const cpuAfter = childrenCpuMs()
    if (r.status !== 0) throw new Error(`${c.name} exited ${r.status}: ${r.stderr}`)
    if (round < WARMUP) continue
    c.wall.push(ms)
    if (cpuBefore !== undefined && cpuAfter !== undefined) c.cpu += cpuAfter - cpuBefore
  }
}
const loadAfter = loadavg()[0]

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}
const [reference] = cases
const refWall = median(reference.wall)
const refCpu = reference.cpu / RUNS
const hasCpu = childrenCpuMs() !== undefined

console.log(
  `${cases.length - 1} cases against node -e 0, ${RUNS} interleaved rounds (+${WARMUP} warm-up), ` +
    `${((Date.now() - started) / 1000).toFixed(0)} s, load average ${loadBefore.toFixed(1)} before, ${loadAfter.toFixed(1)} after`,
)
console.log(`node -e 0: ${refWall.toFixed(1)} ms wall (median)${hasCpu ? `, ${refCpu.toFixed(1)} ms CPU (mean)` : ''}`)
if (env.NODE_EXTRA_CA_CERTS) {
  // Node reads and parses those certificates at every start, `node -e 0` included: the same absolute time is
  // added to both sides, so the ratios come out lower than on a machine without it.
  console.log(
    `note: NODE_EXTRA_CA_CERTS is set (${env.NODE_EXTRA_CA_CERTS}); run with \`env -u NODE_EXTRA_CA_CERTS\` for the ratios without it`,
  )
}
console.log('')
console.log(`| case | wall ms (median) | x node -e 0 | CPU ms (mean) | CPU x node -e 0 | target | met? |`)
console.log(`| --- | --- | --- | --- | --- | --- | --- |`)
let failed = false
let worst = 0
for (const c of cases.slice(1)) {
  const wall = median(c.wall)
  const ratio = wall / refWall
  const cpu = c.cpu / RUNS
  const met = ratio <= c.target
  failed ||= !met
  if (c.target === HELP_TARGET) worst = Math.max(worst, ratio)
  console.log(
    `| \`${c.name}\` | ${wall.toFixed(1)} | ${ratio.toFixed(2)}x | ${hasCpu ? cpu.toFixed(1) : 'n/a'} | ` +
      `${hasCpu ? `${(cpu / refCpu).toFixed(2)}x` : 'n/a'} | <= ${c.target.toFixed(1)}x | ${met ? 'yes' : 'MISSED'} |`,
  )
}
console.log('')
console.log(`slowest --help or contract subject: ${worst.toFixed(2)}x node -e 0 (target <= ${HELP_TARGET.toFixed(1)}x)`)
process.exitCode = failed ? 1 : 0
