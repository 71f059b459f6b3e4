import {UserError, refused} from '../errors.js'
import {ExitCode} from '../exit-codes.js'
import type {Terminal} from './terminal.js'

/**
 * Asks before a dangerous action (DESIGN.md section 8): `--yes` answers it; without a TTY (or with
 * `--no-input`) the confirmation is refused with exit 6, never assumed; "no" at the prompt is exit 3.
 */
export async function confirmOrRefuse(term: Terminal, message: string, options: {yes: boolean; flagHint?: string}) {
  if (options.yes) return
  if (!term.interactive) {
    throw refused(
      `${message} Confirmation needed, and there is no terminal to ask.`,
      'confirmation-required',
      `Re-run with ${options.flagHint ?? '--yes'} to confirm, or --dry-run to see what would happen.`,
    )
  }
  const {confirm} = await import('@inquirer/prompts')
  let answer: boolean
  try {
    answer = await confirm({message, default: false}, {output: process.stderr})
  } catch {
    answer = false
  }
  if (!answer) throw new UserError('Cancelled; nothing was changed.', {code: 'cancelled', exitCode: ExitCode.cancelled})
}
