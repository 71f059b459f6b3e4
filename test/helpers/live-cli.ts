// A long-running dvctl (tail --follow, task watch) whose output is read while it runs.
import {spawn, type ChildProcess} from 'node:child_process'
import {fileURLToPath} from 'node:url'

const RUN = process.env.DVCTL_TEST_RUN || fileURLToPath(new URL('../../bin/run.js', import.meta.url))

export interface LiveCli {
  child: ChildProcess
  /** Non-empty stdout lines so far. */
  stdout: () => string[]
  stderr: () => string
  /** Resolves when `predicate` holds for the output so far; rejects after `ms` or when the process ends. */
  waitFor(predicate: () => boolean, ms?: number, what?: string): Promise<void>
  /** Resolves with the exit code once the process ends on its own. */
  exited: Promise<number | null>
  stop(): Promise<number | null>
}

export function startCli(args: string[], env: NodeJS.ProcessEnv = {}): LiveCli {
  const fullEnv: NodeJS.ProcessEnv = {
    ...process.env,
    NO_COLOR: '1',
    NATS_URL: 'nats://127.0.0.1:1',
    DVCTL_CONFIG: '/nonexistent/dvctl.yaml',
    ...env,
  }
  delete fullEnv.DV_SITE
  const child = spawn(process.execPath, [RUN, ...args], {env: fullEnv, stdio: ['ignore', 'pipe', 'pipe']})
  let out = ''
  let err = ''
  child.stdout!.on('data', (d) => (out += d))
  child.stderr!.on('data', (d) => (err += d))
  const exited = new Promise<number | null>((resolve) =>
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 128 : null))),
  )
  return {
    child,
    exited,
    stdout: () => out.split('\n').filter((l) => l.trim()),
    stderr: () => err,
    async waitFor(predicate, ms = 60_000, what = 'output') {
      const deadline = Date.now() + ms
      while (!predicate()) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; stdout:\n${out}\nstderr:\n${err}`)
        if (child.exitCode !== null) throw new Error(`exited ${child.exitCode}; stdout:\n${out}\nstderr:\n${err}`)
        await new Promise((r) => setTimeout(r, 25))
      }
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGINT')
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000)
      const code = await exited
      clearTimeout(timer)
      return code
    },
  }
}
