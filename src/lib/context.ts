import {AsyncLocalStorage} from 'node:async_hooks'

import {processOutput, type Output} from './render/output.js'

/**
 * What a running command sees of the world outside it: its output (stdout, stderr, stdin, TTYs, width), its
 * environment, and, when a caller runs it in-process, the signal that interrupts it. A real process has one
 * context (process.stdout, process.env, SIGINT/SIGTERM); a test runs a command inside `withContext` with
 * captured output and its own env, so several commands may run at once in one process without sharing any.
 */
export interface CliContext {
  output: Output
  env: NodeJS.ProcessEnv
  /** An interrupt given by the caller (an in-process run); without it, BaseCommand listens for SIGINT/SIGTERM. */
  signal?: AbortSignal
}

// One store per process, even when this module is loaded twice (a test runner's own module graph besides
// the one oclif loads the commands from).
const STORE = Symbol.for('dvctl.cli-context')
const storage: AsyncLocalStorage<CliContext> = ((globalThis as Record<symbol, unknown>)[STORE] ??=
  new AsyncLocalStorage<CliContext>()) as AsyncLocalStorage<CliContext>

/** Runs `fn` (and everything it starts) with `context` as the current context. */
export function withContext<T>(context: CliContext, fn: () => T): T {
  return storage.run(context, fn)
}

/** The current context: the one given to `withContext`, else the process's own. */
export function currentContext(): CliContext {
  return storage.getStore() ?? {output: processOutput(), env: process.env}
}

/** Where output goes now: renderers write here, never to process.stdout. */
export function currentOutput(): Output {
  return currentContext().output
}

/** The environment commands read (config path, NATS_URL, DV_SITE, EDITOR...): the one place they read it. */
export function currentEnv(): NodeJS.ProcessEnv {
  return currentContext().env
}
