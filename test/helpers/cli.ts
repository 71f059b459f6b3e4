import {spawn} from 'node:child_process'
import {fileURLToPath} from 'node:url'

// DVCTL_TEST_RUN: another entry point (e.g. one that ignores a stale oclif.manifest.json while commands are added).
const RUN = process.env.DVCTL_TEST_RUN || fileURLToPath(new URL('../../bin/run.js', import.meta.url))

export interface CliResult {
  exitCode: number
  stdout: string
  stderr: string
  /** stdout parsed as one JSON document (throws when it is not). */
  json<T = any>(): T // eslint-disable-line @typescript-eslint/no-explicit-any
  /** stdout parsed as NDJSON. */
  lines<T = any>(): T[] // eslint-disable-line @typescript-eslint/no-explicit-any
}

export interface CliOptions {
  env?: NodeJS.ProcessEnv
  /** Written to the child's stdin, which is then closed; stdin is never a TTY here. */
  input?: string
  /** Kill the child after this many ms (for --follow). */
  killAfterMs?: number
  timeoutMs?: number
}

/**
 * Runs the real compiled binary (`npm run build` first) as a user would: exit code, stdout, stderr.
 * The machine's own NATS on 4222 is never used: NATS_URL is blanked unless the test sets it, and the
 * config points at a non-existent file unless the test sets DVCTL_CONFIG.
 */
export function runCli(args: string[], options: CliOptions = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const env = testEnv(options.env)
    const child = spawn(process.execPath, [RUN, ...args], {env, stdio: ['pipe', 'pipe', 'pipe']})
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => (stdout += d))
    child.stderr.on('data', (d) => (stderr += d))
    child.stdin.end(options.input ?? '')
    const timers: NodeJS.Timeout[] = []
    if (options.killAfterMs) timers.push(setTimeout(() => child.kill('SIGINT'), options.killAfterMs))
    timers.push(setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000))
    child.on('error', reject)
    child.on('close', (code, signal) => {
      for (const t of timers) clearTimeout(t)
      resolve({
        exitCode: code ?? (signal === 'SIGINT' ? 130 : 137),
        stdout,
        stderr,
        json: () => JSON.parse(stdout),
        lines: () =>
          stdout
            .split('\n')
            .filter((l) => l.trim())
            .map((l) => JSON.parse(l)),
      })
    })
  })
}

/**
 * A command's environment in a test: the machine's NATS on 4222 and the user's config are never used
 * (NATS_URL points nowhere, DVCTL_CONFIG at a missing file) unless the test sets them; a value of '' unsets.
 */
export function testEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    NATS_URL: 'nats://127.0.0.1:1',
    DVCTL_CONFIG: '/nonexistent/dvctl-test-config.yaml',
    DV_SITE: '',
    NO_COLOR: '1',
    ...extra,
  }
  for (const [key, value] of Object.entries(env)) if (value === '') delete env[key]
  return env
}
