import {execute, settings} from '@oclif/core'

import {setCommandLine} from './cli/command-line.js'
import {guardOutput} from './lib/render/output.js'

/**
 * What bin/run.js starts once it has settled colour and debug output: oclif, from the bundle (scripts/build.mjs),
 * with the commands of package.json's explicit strategy. `dir` is bin/run.js's own URL: oclif finds
 * package.json and oclif.manifest.json from there.
 */
export async function run(dir: string): Promise<void> {
  // A reader that goes away (`| head -1`) ends the command with exit 0, not an EPIPE stack (issue 13).
  guardOutput()
  // The bundle is what runs, never TypeScript sources: oclif need not look for tsconfig.json or ts-node even
  // under NODE_ENV=development or test.
  settings.enableAutoTranspile = false
  const args = process.argv.slice(2)
  // Only the command this line runs is loaded, not all of them (src/cli/command-line.ts).
  setCommandLine(args)
  await execute({args, dir})
}
