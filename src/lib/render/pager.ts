import {spawn} from 'node:child_process'
import {accessSync, constants} from 'node:fs'
import {delimiter, join} from 'node:path'

import {withContext} from '../context.js'
import {memoryOutput} from './output.js'
import {makeTerminal, type Terminal} from './terminal.js'

/**
 * Long text shown in a pager from a full-screen view (`dvctl top` opening a dead letter or a workflow): what a
 * renderer writes is captured as the text a command would print on a terminal of that width, then handed to
 * `$PAGER`, else `less -R`, else the caller scrolls it itself.
 */

/** What `draw` prints with `out` (on a terminal `columns` wide; coloured when `color`), as text. */
export async function renderToText(
  env: NodeJS.ProcessEnv,
  size: {columns: number; rows: number; color: boolean},
  draw: (term: Terminal) => void | Promise<void>,
): Promise<string> {
  const output = memoryOutput({tty: true, columns: size.columns, rows: size.rows})
  const term = makeTerminal(output, env, {json: false, noColor: !size.color, noInput: true})
  await withContext({output, env}, () => draw(term))
  return output.stdout()
}

/** An executable on PATH, or undefined. */
function onPath(name: string, env: NodeJS.ProcessEnv): string | undefined {
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (!dir) continue
    const file = join(dir, name)
    try {
      accessSync(file, constants.X_OK)
      return file
    } catch {
      // not here
    }
  }
  return undefined
}

/** The pager to use: `$PAGER` (a shell command line), else `less -R` when installed; undefined otherwise. */
export function pagerCommand(env: NodeJS.ProcessEnv): {file: string; args: string[]} | undefined {
  const pager = env.PAGER?.trim()
  if (pager) return {file: '/bin/sh', args: ['-c', pager]}
  const less = onPath('less', env)
  return less ? {file: less, args: ['-R']} : undefined
}

/**
 * Shows `text` in the pager on the process's own terminal and resolves when the user leaves it. False when
 * there is no pager (the caller shows the text itself). The terminal must be in its normal mode (not raw,
 * not on the alternate screen of another program) while the pager runs.
 */
export async function runPager(text: string, env: NodeJS.ProcessEnv): Promise<boolean> {
  const command = pagerCommand(env)
  if (!command) return false
  return new Promise<boolean>((resolve) => {
    const child = spawn(command.file, command.args, {stdio: ['pipe', 'inherit', 'inherit'], env})
    let started = true
    child.on('error', () => {
      // Not startable after all (removed, not executable): the caller shows the text.
      started = false
      resolve(false)
    })
    // A pager quit before reading everything closes its input: that is not an error.
    child.stdin.on('error', () => {})
    child.on('exit', () => {
      if (started) resolve(true)
    })
    child.stdin.end(text)
  })
}
