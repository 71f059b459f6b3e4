import {redactUrls} from './config/url.js'
import {ExitCode, type ExitCodeValue} from './exit-codes.js'

export interface UserErrorOptions {
  /** Stable, kebab-case code for scripts: `connection-refused`, `invalid-subject`, ... */
  code: string
  exitCode: ExitCodeValue
  /** What to do about it, one sentence. */
  hint?: string
  cause?: unknown
}

/**
 * An error the user can fix: it says what was wrong and what to do, and carries its exit code.
 * Anything else that escapes a command is a bug (exit 1). Its text is printed and put in `--json`,
 * so any URL in it has its credentials redacted here, whatever built the message.
 */
export class UserError extends Error {
  readonly code: string
  readonly exitCode: ExitCodeValue
  readonly hint?: string

  constructor(message: string, options: UserErrorOptions) {
    super(redactUrls(message), options.cause === undefined ? undefined : {cause: options.cause})
    this.name = 'UserError'
    this.code = options.code
    this.exitCode = options.exitCode
    this.hint = options.hint === undefined ? undefined : redactUrls(options.hint)
  }
}

export const usageError = (message: string, code = 'usage', hint?: string) =>
  new UserError(message, {code, exitCode: ExitCode.usage, hint})

export const notFound = (message: string, code = 'not-found', hint?: string) =>
  new UserError(message, {code, exitCode: ExitCode.notFound, hint})

export const refused = (message: string, code = 'refused', hint?: string) =>
  new UserError(message, {code, exitCode: ExitCode.refused, hint})

/** A command that ends with a non-zero exit code but whose result was still printed (partial, drift, watched failure). */
export class ResultExit extends Error {
  constructor(readonly exitCode: ExitCodeValue) {
    super(`exit ${exitCode}`)
    this.name = 'ResultExit'
  }
}

export interface ErrorJson {
  error: {code: string; message: string; exitCode: number; hint?: string}
}

export function toErrorJson(err: UserError): ErrorJson {
  return {error: {code: err.code, message: err.message, exitCode: err.exitCode, ...(err.hint ? {hint: err.hint} : {})}}
}
