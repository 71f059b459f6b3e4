/**
 * Which command modules a start of dvctl loads (scripts/build.mjs, the explicit strategy's module). bin/run.js
 * hands over its command line before oclif starts; the commands module then imports only the commands that line
 * can name, instead of every command with all it imports (bench/README.md, start-up).
 *
 * oclif takes the command id from the words before the first flag, joined with ':' as long as they name a command
 * (`dlq jobs cancel ID --json` runs `dlq:jobs:cancel`), so the id it runs is always one of those joins. Without a
 * command line (oclif's manifest generator, tests that run commands in-process) every command is loaded.
 */
const KEY = Symbol.for('dvctl.command-line')

type Holder = {[KEY]?: readonly string[]}

/** Called once, by src/main.ts, with the arguments bin/run.js was given. */
export function setCommandLine(argv: readonly string[]): void {
  ;(globalThis as Holder)[KEY] = argv
}

/** The ids of `ids` the command line can name, or all of them when there is no command line. */
export function commandsToLoad(ids: readonly string[]): readonly string[] {
  const argv = (globalThis as Holder)[KEY]
  if (!argv) return ids
  const named = new Set<string>()
  const words: string[] = []
  for (const arg of argv) {
    if (arg.startsWith('-')) break
    words.push(arg)
    named.add(words.join(':'))
  }
  return ids.filter((id) => named.has(id))
}
