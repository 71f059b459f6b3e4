// dvctl in a real pseudo-terminal (live views, `top`): what it writes is replayed onto a small terminal
// emulator of the same size (screen.ts), and keys are typed into the terminal as a user types them.
import {fileURLToPath} from 'node:url'

import pty from '@lydell/node-pty'

import {Screen} from './screen.js'

const RUN = fileURLToPath(new URL('../../bin/run.js', import.meta.url))

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

export type PtyRun = ReturnType<typeof startPty>

/**
 * Starts `dvctl ARGS` under a pseudo-terminal of `columns` x `rows`. The machine's NATS and the user's config
 * are never used: NATS_URL and DV_SITE are unset and DVCTL_CONFIG points nowhere, unless `env` sets them.
 */
export function startPty(
  args: string[],
  columns: number,
  rows: number,
  extraEnv: Record<string, string> = {},
  options: {after?: string} = {},
) {
  const env: Record<string, string> = {}
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env[k] = v
  Object.assign(env, {TERM: 'xterm-256color', NO_COLOR: '1', DVCTL_CONFIG: '/nonexistent/dvctl.yaml'}, extraEnv)
  delete env.DV_SITE
  delete env.NATS_URL
  // `after`: a shell command run on the same terminal once dvctl has ended (`stty -a`: the modes it left);
  // the exit code is still dvctl's.
  const term = options.after
    ? pty.spawn('/bin/sh', ['-c', `"$0" "$@"; code=$?; ${options.after}; exit $code`, process.execPath, RUN, ...args], {
        cols: columns,
        rows,
        env,
      })
    : pty.spawn(process.execPath, [RUN, ...args], {cols: columns, rows, env})
  // The pty's driver has already turned LF into CR LF.
  const screen = new Screen(columns, rows, {onlcr: false})
  let output = ''
  term.onData((d) => {
    output += d
    screen.write(d)
  })
  let exitCode: number | undefined
  const exited = new Promise<number>((resolve) =>
    term.onExit(({exitCode: code}) => {
      exitCode = code
      resolve(code)
    }),
  )
  return {
    screen,
    output: () => output,
    exited,
    /** Types `data` (keys as the terminal sends them: `q`, `\t`, `\r`, `\u001b[B`). */
    type(data: string) {
      term.write(data)
    },
    resize(c: number, r: number) {
      term.resize(c, r)
      screen.resize(c, r)
    },
    async waitFor(predicate: () => boolean, what: string, ms = 30_000) {
      const deadline = Date.now() + ms
      while (!predicate()) {
        if (Date.now() > deadline)
          throw new Error(`timed out waiting for ${what}; screen:\n${screen.lines().join('\n')}\noutput:\n${output}`)
        if (exitCode !== undefined) throw new Error(`exited ${exitCode} while waiting for ${what}; output:\n${output}`)
        await sleep(50)
      }
    },
    /** Resolves with the exit code; kills the process when it has not ended within `ms`. */
    async exit(ms = 15_000): Promise<number> {
      const timer = setTimeout(() => term.kill('SIGKILL'), ms)
      const code = await exited
      clearTimeout(timer)
      return code
    },
    async interrupt(): Promise<number> {
      term.kill('SIGINT')
      const timer = setTimeout(() => term.kill('SIGKILL'), 15_000)
      const code = await exited
      clearTimeout(timer)
      return code
    },
  }
}
