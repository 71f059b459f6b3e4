import {spawn} from 'node:child_process'
import {existsSync} from 'node:fs'
import {open, stat} from 'node:fs/promises'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'

import {isOurProcess, stopProcess, waitForLog} from './nats-server.js'

/**
 * The sandbox's `dvctl dlq capture` processes (README, sandbox): one per site, detached like the sandbox's
 * servers (its own process group, output appended to `<site dir>/capture.log`), talking to the site through
 * the sandbox's own config. Recorded in the sandbox state so that `status` and `down` find it again.
 */

/**
 * dvctl's own entry point, for running dvctl itself as a background process: `bin/run.js` of the package this
 * module belongs to, found upwards from it (src/lib/sandbox/ in the repository, dist/ or dist/chunks/ built).
 */
const RUN_JS = (() => {
  let dir = dirname(fileURLToPath(import.meta.url))
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, 'bin', 'run.js'))) return join(dir, 'bin', 'run.js')
    dir = dirname(dir)
  }
  return fileURLToPath(new URL('../../../bin/run.js', import.meta.url))
})()

export interface CaptureProcess {
  pid: number
  log_file: string
}

/** What identifies a sandbox capture process on its command line (a recycled pid is never taken for one). */
const marks = (site: string) => [RUN_JS, 'dlq capture', `--site ${site}`]

/** How long a capture process has to say it runs: node's start on a busy two-core machine takes seconds. */
const READY_MS = 30_000

/**
 * Starts `dvctl dlq capture --site <site>` detached; resolves with its pid once it has logged its start,
 * or with an error text (the log's last line) when it did not.
 */
export async function startCaptureProcess(options: {
  site: string
  config: string
  logFile: string
  env: NodeJS.ProcessEnv
}): Promise<{process: CaptureProcess; error?: string}> {
  const from = await stat(options.logFile).then(
    (s) => s.size,
    () => 0,
  )
  const log = await open(options.logFile, 'a')
  let pid = 0
  try {
    const child = spawn(process.execPath, [RUN_JS, 'dlq', 'capture', '--site', options.site], {
      detached: true,
      stdio: ['ignore', log.fd, log.fd],
      env: {...options.env, DVCTL_CONFIG: options.config, NO_COLOR: '1'},
    })
    child.once('error', () => {})
    child.unref()
    pid = child.pid ?? 0
  } finally {
    await log.close()
  }
  const process_ = {pid, log_file: options.logFile}
  const ready = await waitForLog(options.logFile, 'Capturing dead letters of', READY_MS, from)
  if (ready && (await isCaptureRunning(options.site, process_))) return {process: process_}
  return {process: process_, error: `dlq capture for ${options.site} did not start (see ${options.logFile})`}
}

export async function isCaptureRunning(site: string, capture: CaptureProcess | undefined): Promise<boolean> {
  return capture ? isOurProcess(capture.pid, marks(site)) : false
}

/** Stops a sandbox capture process (SIGTERM: it finishes the advisory in hand); false when it was not running. */
export async function stopCaptureProcess(site: string, capture: CaptureProcess | undefined): Promise<boolean> {
  return capture ? stopProcess(capture.pid, marks(site)) : false
}
