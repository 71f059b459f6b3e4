import {spawnSync} from 'node:child_process'
import {randomUUID} from 'node:crypto'
import {readdir, readFile, rm} from 'node:fs/promises'

/** Marks every process the suite starts (workers, CLIs, nats-servers) through the environment they inherit. */
const MARK = 'DV_TEST_RUN'

/**
 * Runs once before the suite: says which nats-server the tests start (vitest.config.ts puts
 * DV_TEST_NATS_SERVER first on PATH), so a CI log shows the version it passed on, and marks the suite's
 * processes. Afterwards it kills what is left of them: a worker that died (or a fixture that failed) leaves its
 * detached nats-servers and capture processes running, and they must not outlive the run.
 */
export default function setup(): () => Promise<void> {
  const found = spawnSync('nats-server', ['--version'], {encoding: 'utf8'})
  const version = found.error ? `not found on PATH (${found.error.message})` : (found.stdout || found.stderr).trim()
  const from = process.env.DV_TEST_NATS_SERVER ? `DV_TEST_NATS_SERVER=${process.env.DV_TEST_NATS_SERVER}` : 'PATH'
  console.log(`dvctl tests: ${version} (from ${from})`)
  const mark = `${MARK}=${randomUUID()}`
  process.env[MARK] = mark.slice(MARK.length + 1)
  return async () => {
    const left = await marked(mark)
    for (const {pid} of left) {
      try {
        process.kill(pid, 'SIGKILL')
      } catch {
        // Gone meanwhile.
      }
    }
    if (left.length > 0)
      console.log(
        `dvctl tests: killed ${left.length} process(es) the suite left running: ${left.map((p) => `${p.name} (${p.pid})`).join(', ')}`,
      )
    const dir = process.env.DV_TEST_NATS_BIN_DIR
    if (dir) await rm(dir, {recursive: true, force: true})
  }
}

/**
 * Live processes whose environment holds `mark` (Linux's /proc; none elsewhere), but for this process and its
 * own children (vitest's workers and services): what a dead worker started has lost its parent.
 */
async function marked(mark: string): Promise<{pid: number; name: string}[]> {
  const pids = await readdir('/proc').catch(() => [] as string[])
  const found: {pid: number; name: string}[] = []
  for (const entry of pids) {
    const pid = Number(entry)
    if (!Number.isInteger(pid) || pid === process.pid) continue
    try {
      const environ = (await readFile(`/proc/${pid}/environ`, 'latin1')).split('\0')
      if (!environ.includes(mark)) continue
      const status = await readFile(`/proc/${pid}/status`, 'latin1')
      if (Number(/^PPid:\s*(\d+)/m.exec(status)?.[1]) === process.pid) continue
      found.push({pid, name: /^Name:\s*(.*)$/m.exec(status)?.[1] ?? '?'})
    } catch {
      // Exited, or not ours to read.
    }
  }
  return found
}
