import {Readable} from 'node:stream'

import {watchPipeReader} from './pipe-reader.js'

/**
 * Where a command's output goes (docs/architecture.md, "Three layers"): the process's streams, or a buffer
 * when a test runs the command in-process. Renderers write through it (terminal.ts), never to process.stdout.
 */
export interface Output {
  /** Writes to stdout; nothing once its reader is gone. */
  write(text: string): void
  /** Writes to stderr. */
  writeErr(text: string): void
  readonly stdoutTTY: boolean
  readonly stderrTTY: boolean
  readonly stdinTTY: boolean
  /** The terminal's size when stdout is one. */
  readonly columns: number | undefined
  readonly rows: number | undefined
  /** Calls `listener` whenever the terminal is resized (live views redraw); returns the unsubscribe. */
  onResize(listener: () => void): () => void
  /** Standard input (`-` arguments, piped payloads). */
  readonly stdin: NodeJS.ReadableStream
  /** Fires once stdout's reader is gone (`| head`): stop producing output; the command ends with exit 0. */
  closed(): AbortSignal
  isClosed(): boolean
  /** Resolves when stdout can take more: streaming readers await it between messages (backpressure). */
  writable(): Promise<void>
  /** Resolves when everything written has been handed on: before the command ends. */
  flushed(): Promise<void>
}

let processOut: Output | undefined

/** The process's own streams, with the EPIPE, backpressure and pipe-reader handling below. */
export function processOutput(): Output {
  processOut ??= {
    write: writeOut,
    writeErr,
    get stdoutTTY() {
      return Boolean(process.stdout.isTTY)
    },
    get stderrTTY() {
      return Boolean(process.stderr.isTTY)
    },
    get stdinTTY() {
      return Boolean(process.stdin.isTTY)
    },
    get columns() {
      return process.stdout.isTTY ? process.stdout.columns : undefined
    },
    get rows() {
      return process.stdout.isTTY ? process.stdout.rows : undefined
    },
    get stdin() {
      return process.stdin
    },
    onResize(listener) {
      process.stdout.on('resize', listener)
      return () => void process.stdout.off('resize', listener)
    },
    closed: outputClosed,
    isClosed: isOutputClosed,
    writable,
    flushed,
  }
  return processOut
}

/** An output that keeps what is written: a command run in-process by a test (or by another command). */
export interface MemoryOutput extends Output {
  stdout(): string
  stderr(): string
  /** A terminal resize, as a test gives it: the new size, then the resize listeners. */
  resize(columns: number, rows: number): void
}

export function memoryOutput(
  options: {input?: string | Buffer; tty?: boolean; columns?: number; rows?: number} = {},
): MemoryOutput {
  let stdout = ''
  let stderr = ''
  const closed = new AbortController()
  const tty = Boolean(options.tty)
  let columns = tty ? (options.columns ?? 80) : undefined
  let rows = tty ? (options.rows ?? 24) : undefined
  const resizeListeners = new Set<() => void>()
  return {
    write: (text) => {
      stdout += text
    },
    writeErr: (text) => {
      stderr += text
    },
    stdoutTTY: tty,
    stderrTTY: tty,
    stdinTTY: tty,
    get columns() {
      return columns
    },
    get rows() {
      return rows
    },
    stdin: Readable.from(options.input === undefined ? [] : [Buffer.from(options.input)]),
    onResize(listener) {
      resizeListeners.add(listener)
      return () => void resizeListeners.delete(listener)
    },
    resize(newColumns, newRows) {
      columns = newColumns
      rows = newRows
      for (const listener of [...resizeListeners]) listener()
    },
    closed: () => closed.signal,
    isClosed: () => false,
    writable: () => Promise.resolve(),
    flushed: () => Promise.resolve(),
    stdout: () => stdout,
    stderr: () => stderr,
  }
}

/**
 * The process's output streams, seen as what they are: pipes that fill up and readers that go away.
 *
 * - Backpressure: `process.stdout.write` into a pipe never blocks; whatever the reader has not taken yet
 *   is buffered in memory. Readers that stream (tail, task watch) await `writable()` between messages, so
 *   they pull no more from the server than the reader takes (issue 13: 600 MB into a slow pipe).
 * - A reader that goes away (`| head -1`): the next write fails with EPIPE (or, for an idle live view,
 *   the watched pipe has no reader left). That is the end of the command, not an error: `outputClosed()`
 *   fires, streaming readers stop, nothing more is written and the exit status is 0. A command that does
 *   not stop by itself is ended shortly after.
 */

/** How long a command may take to wind down (delete its consumers) once its reader is gone. */
const WIND_DOWN_MS = 1000

interface OutputState {
  closed: AbortController
  stderrClosed: boolean
  /** The pipe's reader is being watched (outputClosed). */
  watchingReader?: boolean
}

let state: OutputState | undefined

/**
 * Installs the EPIPE handling on stdout and stderr; called once by bin/run.js before any command runs.
 * Without it an EPIPE is an uncaught 'error' event: a stack trace and exit 1.
 */
export function guardOutput(): void {
  if (state) return
  const s: OutputState = {closed: new AbortController(), stderrClosed: false}
  state = s
  // Any write error on stdout means nothing more can be delivered; EPIPE is the common one.
  process.stdout.on('error', (error: NodeJS.ErrnoException) => closeOutput(s, error))
  process.stderr.on('error', () => {
    s.stderrClosed = true
  })
}

function closeOutput(s: OutputState, reason: unknown): void {
  if (s.closed.signal.aborted) return
  s.closed.abort(reason)
  process.exitCode = 0
  setTimeout(() => process.exit(0), WIND_DOWN_MS).unref()
}

/**
 * Fires once stdout's reader is gone: stop producing output. A pipe reports it only on the next write
 * (EPIPE), so for the commands that ask (live views, which may idle for long) the pipe's reader is also
 * watched through /proc: an idle `tail --follow | head -1` ends within a second or two of head's exit.
 */
export function outputClosed(): AbortSignal {
  guardOutput()
  const s = state!
  if (!s.watchingReader && process.platform === 'linux' && !process.stdout.isTTY) {
    s.watchingReader = true
    const stop = watchPipeReader(() => closeOutput(s, new Error('the reader of stdout has gone')))
    s.closed.signal.addEventListener('abort', stop, {once: true})
  }
  return s.closed.signal
}

export function isOutputClosed(): boolean {
  return state?.closed.signal.aborted ?? false
}

/** Writes to stdout, unless its reader is gone. */
export function writeOut(text: string): void {
  if (isOutputClosed()) return
  process.stdout.write(text)
}

/** Writes to stderr, unless its reader is gone. */
export function writeErr(text: string): void {
  if (state?.stderrClosed) return
  process.stderr.write(text)
}

/**
 * Resolves when stdout can take more (its buffer is under the high-water mark) or its reader is gone.
 * Streaming readers await it between messages; it costs nothing while the reader keeps up.
 */
export function writable(): Promise<void> {
  if (!process.stdout.writableNeedDrain || isOutputClosed()) return Promise.resolve()
  return waitFor('drain')
}

/**
 * Resolves when everything written to stdout has been handed to the OS (or the reader is gone): before
 * the process exits, so an exit code set with process.exit does not cut the output short.
 */
export function flushed(): Promise<void> {
  if (process.stdout.writableLength === 0 || isOutputClosed()) return Promise.resolve()
  // An empty write's callback runs once every chunk before it is written ('drain' fires only when the
  // buffer went over the high-water mark).
  return Promise.race([new Promise<void>((resolve) => process.stdout.write('', () => resolve())), waitFor('close')])
}

function waitFor(event: 'drain' | 'close'): Promise<void> {
  return new Promise((resolve) => {
    const closed = outputClosed()
    const done = () => {
      process.stdout.off(event, done)
      process.stdout.off('close', done)
      closed.removeEventListener('abort', done)
      resolve()
    }
    process.stdout.once(event, done)
    process.stdout.once('close', done)
    closed.addEventListener('abort', done, {once: true})
  })
}
