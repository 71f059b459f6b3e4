// Runs a dvctl command in this process, as bin/run.js would in its own: same argv, captured stdout and
// stderr, an env of its own and an exit code. Most command tests use it; test/helpers/cli.ts (spawning
// bin/run.js) is kept for what only a process shows: help, --version, pipes (EPIPE), signals, a PTY.
import {fileURLToPath} from 'node:url'

import {Config} from '@oclif/core'
import chalk from 'chalk'

import type {CliResult} from './cli.js'

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
  /** The command's standard input (never a TTY). */
  input?: string
  /** Interrupts the command as Ctrl-C does. */
  signal?: AbortSignal
  /** Interrupts the command after this many ms (for --follow), as Ctrl-C does. */
  killAfterMs?: number
}

/**
 * Runs `dvctl ...argv` in-process and resolves with its exit code and output (the same CliResult as runCli).
 * The machine's own NATS on 4222 is never used: NATS_URL points nowhere unless the test sets it, and the
 * config is a non-existent file unless the test sets DVCTL_CONFIG.
 */
export async function runCommand(argv: string[], options: RunOptions = {}): Promise<CliResult> {
  const [config, {withContext}, {memoryOutput}] = await Promise.all([oclifConfig(), context(), output()])
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    NATS_URL: 'nats://127.0.0.1:1',
    DVCTL_CONFIG: '/nonexistent/dvctl-test-config.yaml',
    DV_SITE: '',
    NO_COLOR: '1',
    ...options.env,
  }
  for (const [key, value] of Object.entries(env)) if (value === '') delete env[key]
  const io = memoryOutput({input: options.input ?? ''})
  const interrupt = new AbortController()
  const onAbort = () => interrupt.abort()
  options.signal?.addEventListener('abort', onAbort, {once: true})
  const timer = options.killAfterMs ? setTimeout(onAbort, options.killAfterMs) : undefined

  const {id, rest} = commandOf(config, argv)
  const chalkLevel = chalk.level
  const exitCodeBefore = process.exitCode
  let exitCode = 0
  try {
    await withContext({output: io, env, signal: interrupt.signal}, () => config.runCommand(id, rest))
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
    if (timer) clearTimeout(timer)
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
  for (let n = Math.min(words.length, 3); n > 0; n--) {
    const id = words.slice(0, n).join(':')
    if (config.findCommand(id)) return {id, rest: argv.slice(n)}
  }
  throw new Error(`runCommand: no command in ${JSON.stringify(argv)} (help and --version run through runCli)`)
}
