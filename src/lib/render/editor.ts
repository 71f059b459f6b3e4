import {spawn} from 'node:child_process'
import {mkdtemp, readFile, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {UserError, usageError} from '../errors.js'
import {ExitCode} from '../exit-codes.js'

/**
 * Splits an editor setting (`$VISUAL`, `$EDITOR`) into a command and its arguments the way a POSIX shell
 * splits words, without running a shell: blanks separate words, '...' keeps everything literally, "..."
 * keeps everything but `\"` and `\\`, and a backslash outside quotes escapes the next character. Nothing
 * is expanded ($VAR, globs, ~). Undefined for an empty setting or an unterminated quote.
 */
export function splitCommandLine(text: string): string[] | undefined {
  const words: string[] = []
  let word = ''
  let inWord = false
  for (let i = 0; i < text.length; i++) {
    const c = text[i]
    if (c === ' ' || c === '\t' || c === '\n') {
      if (inWord) words.push(word)
      word = ''
      inWord = false
    } else if (c === "'") {
      const end = text.indexOf("'", i + 1)
      if (end < 0) return undefined
      word += text.slice(i + 1, end)
      inWord = true
      i = end
    } else if (c === '"') {
      inWord = true
      for (i++; ; i++) {
        if (i >= text.length) return undefined
        if (text[i] === '"') break
        if (text[i] === '\\' && (text[i + 1] === '"' || text[i + 1] === '\\')) i++
        word += text[i]
      }
    } else if (c === '\\' && i + 1 < text.length) {
      word += text[++i]
      inWord = true
    } else {
      word += c
      inWord = true
    }
  }
  if (inWord) words.push(word)
  return words.length ? words : undefined
}

/**
 * Opens `$VISUAL`/`$EDITOR` (default vi) on `text` in a private temporary file and returns what was
 * saved. The editor is started directly (no shell), with the file as its last argument. An editor that
 * cannot be started is a usage error (exit 2); one that exits non-zero (vim's `:cq`) cancels (exit 3).
 */
export async function editText(text: string, name: string, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const setting = env.VISUAL || env.EDITOR || 'vi'
  const words = splitCommandLine(setting)
  const hint = 'Set VISUAL or EDITOR to an editor command, such as "vi" or "code --wait".'
  if (!words)
    throw usageError(
      `The editor setting ${JSON.stringify(setting)} is empty or has an unterminated quote.`,
      'bad-editor',
      hint,
    )
  const [command, ...args] = words
  const dir = await mkdtemp(join(tmpdir(), 'dvctl-edit-'))
  const file = join(dir, name)
  try {
    await writeFile(file, text)
    const code = await new Promise<number | null>((resolve, reject) => {
      const child = spawn(command, [...args, file], {stdio: 'inherit'})
      child.on('error', (error) =>
        reject(usageError(`The editor "${command}" could not be started: ${error.message}.`, 'bad-editor', hint)),
      )
      child.on('exit', resolve)
    })
    if (code !== 0) {
      throw new UserError(`The editor (${setting}) exited with ${code}; nothing was sent.`, {
        code: 'edit-cancelled',
        exitCode: ExitCode.cancelled,
        hint: 'Save and quit the editor normally to send the edited message.',
      })
    }
    return await readFile(file, 'utf8')
  } finally {
    await rm(dir, {recursive: true, force: true})
  }
}
