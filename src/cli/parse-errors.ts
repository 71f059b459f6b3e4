import {createRequire} from 'node:module'
import {dirname, join} from 'node:path'

import type {Errors} from '@oclif/core'

/** What the parser puts on its errors: the command's flag definitions (CLIParseErrorOptions.parse). */
export type CLIParseError = Errors.CLIError & {
  parse: {
    input?: {flags?: Record<string, {hidden?: boolean; aliases?: string[]; multiple?: boolean}>}
    output?: {raw?: ReadonlyArray<{type: string; flag?: string}>}
  }
}
export type NonExistentFlagsError = CLIParseError & {flags: string[]}

interface ParseErrorClasses {
  CLIParseError: abstract new (...args: never[]) => CLIParseError
  NonExistentFlagsError: abstract new (...args: never[]) => NonExistentFlagsError
}

let loaded: ParseErrorClasses | undefined

/**
 * oclif's parser error classes. @oclif/core does not export them (its package `exports` has no
 * `./lib/parser/errors`), so the file is required by its path next to the package's entry point: the
 * package is CommonJS, so this is the same module instance that the parser throws from, and `instanceof`
 * holds.
 */
export function parseErrors(): ParseErrorClasses {
  if (!loaded) {
    const require = createRequire(import.meta.url)
    const core = require.resolve('@oclif/core')
    loaded = require(join(dirname(core), 'parser', 'errors.js')) as ParseErrorClasses
  }
  return loaded
}

/** The flags the failing command accepts (long names and aliases, without `--`), hidden ones left out. */
export function knownFlagNames(error: CLIParseError): string[] {
  const flags = error.parse.input?.flags ?? {}
  return Object.entries(flags)
    .filter(([, flag]) => !flag.hidden)
    .flatMap(([name, flag]) => [name, ...(flag.aliases ?? [])])
}

const MULTIPLE_NOTE = /\n\nNote: [^\n]* multiple values\.[^\n]*(\nAlternatively, [^\n]*)?/

/**
 * oclif adds "Note: --site allows multiple values ..." to a missing-argument error whenever the command has such a
 * flag. It helps only when one was given (it may have taken the argument as its value); otherwise it is noise.
 */
export function parseErrorMessage(error: CLIParseError): string {
  const message = error.message.replace(/\n\s*See more help with --help$/, '')
  const flags = error.parse.input?.flags ?? {}
  const given = (error.parse.output?.raw ?? []).filter((token) => token.type === 'flag').map((token) => token.flag)
  const multipleGiven = given.some((name) => name !== undefined && flags[name]?.multiple)
  return multipleGiven ? message : message.replace(MULTIPLE_NOTE, '')
}
