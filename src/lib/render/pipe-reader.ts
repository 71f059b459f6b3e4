import {readdirSync, readFileSync, readlinkSync} from 'node:fs'

/**
 * Whether anybody still holds the read end of the pipe on stdout (Linux only, read from /proc).
 *
 * A pipe tells a writer that its reader went away only on the next write (EPIPE). A live view that has
 * nothing to write (`tail --follow | head -1` once the first line is out) would wait for the next message
 * to learn it, maybe for hours. So while such a view idles, it asks /proc who holds the pipe: `true` when
 * a reader is there, `false` when none is, `undefined` when it cannot tell (not Linux, not a pipe, or a
 * process it may not look into). Only `false` ends a command, and only after a reader was once seen
 * (`watchPipeReader`), so a reader outside this PID namespace (a container's shim) never ends one.
 * Synchronous: one look costs a few milliseconds per hundred processes, once a second while watched.
 */
export function pipeReaderPresent(): boolean | undefined {
  let pipe: string
  try {
    pipe = readlinkSync('/proc/self/fd/1')
  } catch {
    return undefined
  }
  if (!pipe.startsWith('pipe:')) return undefined
  let pids: string[]
  try {
    pids = readdirSync('/proc')
  } catch {
    return undefined
  }
  let unsure = false
  for (const pid of pids) {
    if (!/^\d+$/.test(pid)) continue
    let fds: string[]
    try {
      fds = readdirSync(`/proc/${pid}/fd`)
    } catch (error) {
      // A process that ended meanwhile is no reader; one we may not look into might be.
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') unsure = true
      continue
    }
    for (const fd of fds) {
      const target = attempt(() => readlinkSync(`/proc/${pid}/fd/${fd}`))
      if (target !== pipe) continue
      const info = attempt(() => readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8'))
      const flags = /^flags:\s*([0-7]+)/m.exec(info)?.[1]
      // O_ACCMODE 0 is O_RDONLY: the read end.
      if (flags !== undefined && (parseInt(flags, 8) & 3) === 0) return true
    }
  }
  return unsure ? undefined : false
}

/**
 * Calls `onGone` once the pipe on stdout has lost its last reader, checking every `intervalMs`; a no-op
 * unless a reader is seen at the first check. Returns a stop function. The timer never keeps the process
 * alive.
 */
export function watchPipeReader(onGone: () => void, intervalMs = 1000): () => void {
  let stopped = false
  let timer: NodeJS.Timeout | undefined
  const check = (seen: boolean) => {
    if (stopped) return
    const present = pipeReaderPresent()
    if (present === false && seen) return onGone()
    if (!seen && present !== true) return // nobody visible to begin with: cannot tell, so never act
    timer = setTimeout(() => check(true), intervalMs)
    timer.unref()
  }
  // The first look is synchronous: it must happen before a quick reader (`| head -1`) has gone.
  check(false)
  return () => {
    stopped = true
    if (timer) clearTimeout(timer)
  }
}

function attempt(read: () => string): string {
  try {
    return read()
  } catch {
    return ''
  }
}
