#!/usr/bin/env node
// Finishes the oclif.manifest.json that `oclif manifest` wrote (npm run manifest, after npm run build):
//
// - Commands sorted by id: oclif lists them in the order it found them, which differs between file systems and
//   builds; sorted, the committed manifest is comparable byte for byte in CI.
// - Non-ASCII characters written as \u escapes (see the end).
// - Flags whose help default is constant (src/cli/flags.ts constantHelp: `--timeout` shows 5s) are marked
//   `hasDynamicHelp: false`. oclif marks every function-valued `defaultHelp` as dynamic, and --help then loads
//   the command's module to run it; these texts never change, and the manifest already holds them.
import {readFileSync, writeFileSync} from 'node:fs'

const file = new URL('../oclif.manifest.json', import.meta.url)
const manifest = JSON.parse(readFileSync(file, 'utf8'))
const {COMMANDS} = await import(new URL('../dist/commands.js', import.meta.url).href)

for (const [id, command] of Object.entries(manifest.commands)) {
  const Command = COMMANDS[id]
  if (!Command) throw new Error(`manifest: ${id} is not in dist/commands.js; run npm run build first`)
  const flags = {...Command.baseFlags, ...Command.flags}
  for (const [name, flag] of Object.entries(command.flags)) {
    const help = flags[name]?.defaultHelp
    if (!flag.hasDynamicHelp || typeof help?.constantHelp !== 'string') continue
    if (flag.default !== help.constantHelp) throw new Error(`manifest: ${id} --${name}: default ${flag.default}`)
    flag.hasDynamicHelp = false
  }
  command.hasDynamicHelp = Object.values(command.flags).some((flag) => flag.hasDynamicHelp === true)
}
manifest.commands = Object.fromEntries(Object.entries(manifest.commands).sort(([a], [b]) => a.localeCompare(b)))
// ASCII only (other characters as \u escapes): every start reads the manifest, and V8 reads a one-byte string
// faster than the two-byte one a single character such as ’ makes of the whole file.
const json = JSON.stringify(manifest, null, 2).replace(
  /[\u0080-\uffff]/g,
  (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
)
writeFileSync(file, json + '\n')
