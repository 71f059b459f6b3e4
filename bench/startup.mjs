#!/usr/bin/env node
// Start-up benchmark (bench/README.md): `dvctl --version`, `dvctl --help` and a command's work
// against `node -e 0` measured in the same run. Target: within 2.5x. Run `npm run build` first.
import {spawnSync} from 'node:child_process'
import {fileURLToPath} from 'node:url'

const RUNS = Number(process.env.RUNS ?? 15)
const bin = fileURLToPath(new URL('../bin/run.js', import.meta.url))
const env = {...process.env, NO_COLOR: '1'}

function median(cmd) {
  const times = []
  for (let i = 0; i < RUNS + 2; i++) {
    const t = process.hrtime.bigint()
    const r = spawnSync(process.execPath, cmd, {env, stdio: ['ignore', 'ignore', 'pipe']})
    const ms = Number(process.hrtime.bigint() - t) / 1e6
    if (r.status !== 0) throw new Error(`${cmd.join(' ')} exited ${r.status}: ${r.stderr}`)
    if (i >= 2) times.push(ms) // two warm-up runs fill the page cache
  }
  times.sort((a, b) => a - b)
  return times[Math.floor(times.length / 2)]
}

const reference = median(['-e', '0'])
const cases = [
  ['dvctl --version', [bin, '--version']],
  ['dvctl --help', [bin, '--help']],
  ['dvctl contract subject dv.maskin.cmd.provision', [bin, 'contract', 'subject', 'dv.maskin.cmd.provision']],
  ['dvctl dlq replay --help', [bin, 'dlq', 'replay', '--help']],
]
console.log(`node -e 0: ${reference.toFixed(1)} ms (median of ${RUNS})`)
let failed = false
for (const [name, cmd] of cases) {
  let ms
  try {
    ms = median(cmd)
  } catch (error) {
    console.log(`${name}: skipped (${error.message.split('\n')[0]})`)
    continue
  }
  const ratio = ms / reference
  failed ||= ratio > 2.5
  console.log(
    `${name}: ${ms.toFixed(1)} ms, ${ratio.toFixed(2)}x node -e 0 (target <= 2.5x) ${ratio <= 2.5 ? 'ok' : 'MISSED'}`,
  )
}
process.exitCode = failed ? 1 : 0
