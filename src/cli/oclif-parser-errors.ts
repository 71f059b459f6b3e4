import {createRequire} from 'node:module'
import {dirname, join} from 'node:path'

/**
 * oclif's parser error module. @oclif/core does not export it (its package `exports` has no
 * `./lib/parser/errors`), so when dvctl runs from its sources (tests, tsc) the file is required by its path
 * next to the package's entry point: the package is CommonJS, so this is the same module instance that the
 * parser throws from, and `instanceof` holds. The bundle (scripts/build.mjs) puts oclif's own file in this
 * module's place, the one its bundled parser throws from.
 */
const require = createRequire(import.meta.url)
const errors = require(join(dirname(require.resolve('@oclif/core')), 'parser', 'errors.js'))

export const CLIParseError = errors.CLIParseError
export const NonExistentFlagsError = errors.NonExistentFlagsError
