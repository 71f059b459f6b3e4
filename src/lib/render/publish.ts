import chalk from 'chalk'

import type {Problem} from '../contract/problems.js'
import {ExitCode} from '../exit-codes.js'
import type {BuiltMessage} from '../publish/envelope.js'
import type {PublishResult} from '../publish/publish.js'
import type {RequestResult} from '../publish/request.js'
import {err, out, warn, type Terminal} from './terminal.js'
import {sanitize} from './text.js'

/** Every problem of a refused message, one per line on stderr: path, code, message. */
export function renderProblems(problems: Problem[], heading: string): void {
  err(`${chalk.red('Error:')} ${heading}`)
  const pathWidth = Math.max(...problems.map((p) => p.path.length))
  const codeWidth = Math.max(...problems.map((p) => p.code.length))
  for (const p of problems) err(`  ${p.path.padEnd(pathWidth)}  ${chalk.bold(p.code.padEnd(codeWidth))}  ${p.message}`)
}

export function renderWarnings(warnings: Problem[]): void {
  for (const w of warnings) warn(`${w.path}: ${w.message} (${w.code})`)
}

/** `publish`: where it went (or that it was a duplicate), then the envelope sent, pretty-printed. */
export function renderPublishResult(term: Terminal, result: PublishResult): void {
  renderWarnings(result.warnings)
  const id = String(result.envelope.id)
  if (result.dry_run) {
    err(`Valid: ${result.subject} (not sent: --dry-run)`)
  } else if (result.duplicate) {
    err(
      `${chalk.yellow('Duplicate:')} ${result.stream} already holds envelope ${id} (seq ${result.seq}); nothing new was stored.`,
    )
  } else {
    err(`Published ${result.subject} to ${result.stream} seq ${result.seq} on site ${result.site}`)
  }
  out(JSON.stringify(result.envelope, null, term.stdoutTTY ? 2 : undefined))
}

/** `publish --interactive`: the message the answers built, on stderr (with its warnings) before it is confirmed. */
export function renderEnvelopePreview(message: BuiltMessage): void {
  renderWarnings(message.warnings)
  err(`The message for ${sanitize(message.subject)}:`)
  err(sanitize(JSON.stringify(message.envelope, null, 2), 'block'))
}

/** `request`: the reply on stdout, JSON pretty-printed or the raw text. */
export function renderRequestResult(result: RequestResult): void {
  renderWarnings(result.warnings)
  out(result.reply_format === 'json' ? JSON.stringify(result.reply, null, 2) : String(result.reply))
}

/**
 * A message that breaks the contract (publish, request): every problem listed and nothing sent. With
 * `--json`, the error document of docs/architecture.md with the problems beside it.
 */
export function refuseMessage(term: Terminal, message: BuiltMessage, options: {dryRun: boolean}): void {
  const n = message.problems.length
  const heading = `${message.subject}: the message breaks the contract (${n} problem${n === 1 ? '' : 's'}); nothing was sent.`
  // Only `publish` has --dry-run; `request` is told nothing about it.
  const hint = `Fix the fields named above (dvctl contract schemas lists the payload schemas)${options.dryRun ? '; --dry-run checks without sending' : ''}.`
  if (term.json) {
    const error = {
      code: 'invalid-message',
      message: heading,
      exitCode: ExitCode.usage,
      hint,
      problems: message.problems,
    }
    out(JSON.stringify({error}, null, 2))
    return
  }
  renderProblems(message.problems, heading)
  err(`Hint: ${hint}`)
}
