import {readFileSync, readdirSync, statSync} from 'node:fs'
import {join, relative} from 'node:path'
import {fileURLToPath} from 'node:url'

import {describe, expect, it} from 'vitest'

// bin/run.js finds commands through the committed oclif.manifest.json: a command added without
// regenerating it (npm run manifest) is invisible to users. CI also regenerates and diffs it.
const COMMANDS_DIR = fileURLToPath(new URL('../../src/commands', import.meta.url))
const MANIFEST = fileURLToPath(new URL('../../oclif.manifest.json', import.meta.url))
// The commands of the oclif plugins bundled into dvctl (scripts/build.mjs): help and shell completion.
const PLUGIN_COMMANDS = ['autocomplete', 'autocomplete:create', 'autocomplete:script', 'help']

function commandIds(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) return commandIds(path)
    return name.endsWith('.ts') ? [relative(COMMANDS_DIR, path).replace(/\.ts$/, '').split('/').join(':')] : []
  })
}

describe('oclif.manifest.json', () => {
  const manifest = JSON.parse(readFileSync(MANIFEST, 'utf8')) as {
    commands: Record<string, {flags: Record<string, unknown>; examples?: unknown[]}>
  }

  it('lists exactly the commands in src/commands and those of the bundled plugins', () => {
    expect(Object.keys(manifest.commands).sort()).toEqual([...commandIds(COMMANDS_DIR), ...PLUGIN_COMMANDS].sort())
  })

  it('is sorted, so regenerating it on another file system gives the same bytes', () => {
    const ids = Object.keys(manifest.commands)
    expect(ids).toEqual([...ids].sort((a, b) => a.localeCompare(b)))
  })

  it('has the global flags and --json on every command', () => {
    for (const [id, command] of Object.entries(manifest.commands)) {
      if (PLUGIN_COMMANDS.includes(id)) continue
      for (const flag of ['json', 'server', 'site', 'creds', 'timeout', 'no-color', 'no-input']) {
        expect(command.flags, `${id} --${flag}`).toHaveProperty(flag)
      }
    }
  })

  it('holds every default --help shows, so --help loads no command module (no dynamic help)', () => {
    const dynamic = Object.entries(manifest.commands).filter(
      ([, c]) => (c as {hasDynamicHelp?: boolean}).hasDynamicHelp,
    )
    expect(dynamic.map(([id]) => id)).toEqual([])
  })
})
