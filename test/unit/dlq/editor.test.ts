import {chmod, mkdtemp, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {UserError} from '../../../src/lib/errors.js'
import {ExitCode} from '../../../src/lib/exit-codes.js'
import {editText, splitCommandLine} from '../../../src/lib/render/editor.js'

describe('splitCommandLine', () => {
  it.each([
    ['vi', ['vi']],
    ['  code   --wait ', ['code', '--wait']],
    ['sed -i s/a/b/', ['sed', '-i', 's/a/b/']],
    [`"/opt/my editor/ed" -w`, ['/opt/my editor/ed', '-w']],
    [`'/opt/my editor/ed' "-c set ft=json"`, ['/opt/my editor/ed', '-c set ft=json']],
    [`a\\ b "x\\"y" 'q\\z'`, ['a b', 'x"y', 'q\\z']],
    [`ed ''`, ['ed', '']],
    ['ed $HOME `id` ;rm', ['ed', '$HOME', '`id`', ';rm']],
  ])('%s', (text, words) => {
    expect(splitCommandLine(text)).toEqual(words)
  })

  it('gives undefined for an empty setting or an unterminated quote', () => {
    expect(splitCommandLine('   ')).toBeUndefined()
    expect(splitCommandLine(`vi "unterminated`)).toBeUndefined()
    expect(splitCommandLine(`vi 'unterminated`)).toBeUndefined()
  })
})

describe('editText', () => {
  let dir: string
  let editor: string
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dvctl-editor-test-'))
    // A fake editor: appends its first argument to the file named by its last one, never through a shell.
    editor = join(dir, 'fake editor.sh')
    await writeFile(editor, '#!/bin/sh\nfor f; do :; done\nprintf "%s" "$1" >> "$f"\n')
    await chmod(editor, 0o755)
  })
  afterAll(() => rm(dir, {recursive: true, force: true}))

  it('runs the editor without a shell, the file as its own argument, whatever the name holds', async () => {
    const name = 'x"; touch pwned; ".json'
    const edited = await editText('{}', name, {EDITOR: `'${editor}' ' $(id)'`})
    expect(edited).toBe('{} $(id)')
  })

  it('prefers VISUAL, and says why when the editor cannot start or exits non-zero', async () => {
    expect(await editText('a', 'f', {VISUAL: `'${editor}' b`, EDITOR: 'false'})).toBe('ab')
    const missing = await editText('a', 'f', {EDITOR: join(dir, 'no-such-editor')}).catch((e: unknown) => e)
    expect(missing).toBeInstanceOf(UserError)
    expect((missing as UserError).exitCode).toBe(ExitCode.usage)
    const quit = await editText('a', 'f', {EDITOR: 'false'}).catch((e: unknown) => e)
    expect((quit as UserError).exitCode).toBe(ExitCode.cancelled)
  })
})
