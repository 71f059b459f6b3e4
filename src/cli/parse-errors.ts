import type {Errors} from '@oclif/core'

import * as oclifParserErrors from './oclif-parser-errors.js'

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

/** oclif's parser error classes (src/cli/oclif-parser-errors.ts says where they come from). */
export function parseErrors(): ParseErrorClasses {
  return oclifParserErrors as unknown as ParseErrorClasses
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
