// Runs a dvctl command in this process, as bin/run.js would in its own: same argv, captured stdout and
// stderr, an env of its own and an exit code. Most command tests use it; test/helpers/cli.ts (spawning
// bin/run.js) is kept for what only a process shows: help, --version, pipes (EPIPE), signals, a PTY.
import {fileURLToPath} from 'node:url'

import {Config} from '@oclif/core'
import chalk from 'chalk'

import {testEnv, type CliResult} from './cli.js'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))

// The compiled modules (`npm run build` first), the ones oclif loads the commands from. The context lives
// in one process-wide store (Symbol.for), so these imports meet the commands' own even when the test
// runner loads its own copy of the module.
const context = (): Promise<typeof import('../../src/lib/context.js')> =>
  import(new URL('../../dist/lib/context.js', import.meta.url).href)
const output = (): Promise<typeof import('../../src/lib/render/output.js')> =>
  import(new URL('../../dist/lib/render/output.js', import.meta.url).href)

let loaded: Promise<Config> | undefined

/** The oclif config, loaded once per test file from the repository root (package.json, oclif.manifest.json). */
function oclifConfig(): Promise<Config> {
  loaded ??= Config.load({root: ROOT})
  return loaded
}

export interface RunOptions {
  /** Added to the env the command sees (a value of '' removes a variable). process.env is never changed. */
  env?: NodeJS.ProcessEnv
  /** The command's standard input (a TTY only with `tty`). */
  input?: string
  /**
   * Stdout, stderr and stdin are a terminal of this size (default 80x24), as a command run by hand sees them:
   * tables are fitted to `columns` and have a header row. Without it they are pipes.
   */
  tty?: {columns?: number; rows?: number}
  /** Interrupts the command as Ctrl-C does. */
  signal?: AbortSignal
  /** Interrupts the command after this many ms (for --follow), as Ctrl-C does. */
  killAfterMs?: number
  /** A bound on a command that might hang: it is interrupted then (a spawned one would be killed). */
  timeoutMs?: number
  /** Receives the output object before the command starts (startCommand reads it while the command runs). */
  onOutput?: (output: {stdout(): string; stderr(): string}) => void
}

/**
 * Runs `dvctl ...argv` in-process and resolves with its exit code and output (the same CliResult as runCli).
 * The machine's own NATS on 4222 is never used: NATS_URL points nowhere unless the test sets it, and the
 * config is a non-existent file unless the test sets DVCTL_CONFIG.
 */
export async function runCommand(argv: string[], options: RunOptions = {}): Promise<CliResult> {
  const [config, {withContext}, {memoryOutput}] = await Promise.all([oclifConfig(), context(), output()])
  const env = testEnv(options.env)
  const io = memoryOutput({input: options.input ?? '', ...(options.tty ? {tty: true, ...options.tty} : {})})
  options.onOutput?.(io)
  const interrupt = new AbortController()
  const onAbort = () => interrupt.abort()
  options.signal?.addEventListener('abort', onAbort, {once: true})
  const timers = [options.killAfterMs, options.timeoutMs]
    .filter((ms) => ms !== undefined)
    .map((ms) => setTimeout(onAbort, ms))

  const {id, rest} = commandOf(config, argv)
  const chalkLevel = chalk.level
  const exitCodeBefore = process.exitCode
  let exitCode = 0
  try {
    process.exitCode = undefined
    await withContext({output: io, env, signal: interrupt.signal}, () => config.runCommand(id, rest))
    // Set only by the hook that answers an unknown command (exit 2).
    exitCode = Number(process.exitCode ?? 0)
  } catch (error) {
    const e = error as Error & {oclif?: {exit?: number}}
    if (typeof e.oclif?.exit === 'number') {
      exitCode = e.oclif.exit
    } else {
      // Thrown past BaseCommand.catch (no command of that name): what oclif's handler prints.
      io.writeErr(`${e.message}\n`)
      exitCode = 1
    }
  } finally {
    for (const timer of timers) clearTimeout(timer)
    options.signal?.removeEventListener('abort', onAbort)
    chalk.level = chalkLevel
    process.exitCode = exitCodeBefore
  }
  const stdout = io.stdout()
  return {
    exitCode,
    stdout,
    stderr: io.stderr(),
    json: () => JSON.parse(stdout),
    lines: () =>
      stdout
        .split('\n')
        .filter((l) => l.trim())
        .map((l) => JSON.parse(l)),
  }
}

/** The command id in argv (topics separated by spaces, as typed) and the arguments after it. */
function commandOf(config: Config, argv: string[]): {id: string; rest: string[]} {
  const firstFlag = argv.findIndex((a) => a.startsWith('-'))
  const words = firstFlag === -1 ? argv : argv.slice(0, firstFlag)
  if (words.length === 0) throw new Error('runCommand: no command given (help and --version run through runCli)')
  for (let n = Math.min(words.length, 3); n > 0; n--) {
    const id = words.slice(0, n).join(':')
    if (config.findCommand(id)) return {id, rest: argv.slice(n)}
  }
  // An unknown command: oclif's command_not_found hook answers it (src/hooks/command-not-found.ts).
  return {id: words.join(':'), rest: argv.slice(words.length)}
}

/** A long-running command (tail --follow, task watch) whose output is read while it runs, in-process. */
export interface LiveCommand {
  /** Non-empty stdout lines so far. */
  stdout: () => string[]
  stderr: () => string
  /** Resolves when `predicate` holds for the output so far; rejects after `ms` or when the command ends. */
  waitFor(predicate: () => boolean, ms?: number, what?: string): Promise<void>
  /** Resolves with the exit code once the command ends on its own. */
  exited: Promise<number>
  /** Interrupts the command as Ctrl-C does; resolves with its exit code. */
  stop(): Promise<number>
}

export function startCommand(argv: string[], env: NodeJS.ProcessEnv = {}): LiveCommand {
  const interrupt = new AbortController()
  let output: {stdout(): string; stderr(): string} | undefined
  let ended = false
  const out = () => output?.stdout() ?? ''
  const err = () => output?.stderr() ?? ''
  const exited = runCommand(argv, {env, signal: interrupt.signal, onOutput: (o) => (output = o)}).then((r) => {
    ended = true
    return r.exitCode
  })
  return {
    exited,
    stdout: () =>
      out()
        .split('\n')
        .filter((l) => l.trim()),
    stderr: err,
    async waitFor(predicate, ms = 60_000, what = 'output') {
      const deadline = Date.now() + ms
      while (!predicate()) {
        if (Date.now() > deadline)
          throw new Error(`timed out waiting for ${what}; stdout:\n${out()}\nstderr:\n${err()}`)
        if (ended) throw new Error(`exited ${await exited}; stdout:\n${out()}\nstderr:\n${err()}`)
        await new Promise((r) => setTimeout(r, 25))
      }
    },
    async stop() {
      interrupt.abort()
      return exited
    },
  }
}
