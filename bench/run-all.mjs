#!/usr/bin/env node
// `npm run bench`: builds once, then runs every bench script in sequence (never in parallel: they would
// measure each other). Each script prints its figures and the ratio to its same-run reference; this exits
// non-zero when any of them missed its target or failed. Run one alone with `node bench/<name>.mjs`.
import {spawnSync} from 'node:child_process'
import {readdirSync} from 'node:fs'
import {cpus, totalmem} from 'node:os'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))
const root = join(here, '..')
const only = process.argv.slice(2)
const scripts = readdirSync(here)
  // Fixtures (`*-fixture.mjs`) and helpers (`_*.mjs`) are imported by the benches, not run.
  .filter((f) => f.endsWith('.mjs') && f !== 'run-all.mjs' && !f.startsWith('_') && !f.endsWith('-fixture.mjs'))
  .filter((f) => only.length === 0 || only.some((o) => f.includes(o)))
  .sort()

console.log(`dvctl benchmarks, ${new Date().toISOString()}`)
console.log(
  `node ${process.version}, ${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB`,
)
const nats = spawnSync('nats-server', ['--version'], {encoding: 'utf8'})
console.log(`${(nats.stdout || nats.stderr || 'nats-server: not found').trim()}\n`)

const build = spawnSync('npm', ['run', 'build'], {cwd: root, stdio: 'inherit'})
if (build.status !== 0) throw new Error('npm run build failed')

const failed = []
for (const script of scripts) {
  console.log(`== ${script}`)
  const r = spawnSync(process.execPath, [join(here, script)], {cwd: root, stdio: 'inherit'})
  if (r.status !== 0) failed.push(`${script} (exit ${r.status ?? r.signal})`)
  console.log('')
}
console.log(failed.length ? `missed or failed: ${failed.join(', ')}` : 'all benchmarks met their targets')
process.exitCode = failed.length ? 1 : 0
