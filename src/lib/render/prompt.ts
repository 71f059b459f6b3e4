import {ResultExit, UserError, refused} from '../errors.js'
import {ExitCode} from '../exit-codes.js'
import {err, type Terminal} from './terminal.js'
import {sanitize} from './text.js'

/** The site a change acts on, as every prompt and change summary names it. */
export interface ChangeTarget {
  site: string
  /** Credentials already redacted (SiteConnection.url). */
  url: string
}

/** `on site osl1 (nats://nats.osl1:4222)`. */
export function targetText(target: ChangeTarget): string {
  return `on site ${sanitize(target.site)} (${sanitize(target.url)})`
}

/**
 * Asks before a dangerous action, naming the site and URL it acts on: `--yes` answers it; without a
 * terminal to ask on (or with `--no-input`) the confirmation is refused with exit 6, never assumed. "No" is
 * exit 3 with a plain "Cancelled" (not an error); Ctrl-C at the prompt is an interrupt, exit 130.
 */
export async function confirmOrRefuse(
  term: Terminal,
  action: string,
  options: {
    yes: boolean
    target: ChangeTarget
    flagHint?: string
    warning?: string
    /** Whether the command has --dry-run (the refusal's hint names it); true unless told. */
    dryRun?: boolean
    /** The refusal's whole hint, for a command that has neither --yes nor --dry-run. */
    refusedHint?: string
  },
) {
  const message = `${action} ${targetText(options.target)}?${options.warning ? ` ${options.warning}` : ''}`
  if (options.yes) return
  if (!term.interactive) {
    throw refused(
      `${message} Confirmation needed, and there is no terminal to ask.`,
      'confirmation-required',
      options.refusedHint ??
        `Re-run with ${options.flagHint ?? '--yes'} to confirm${options.dryRun === false ? '' : ', or --dry-run to see what would happen'}.`,
    )
  }
  const {confirm} = await import('@inquirer/prompts')
  let answer: boolean
  try {
    // The prompt is on stderr, so `| tee log` on stdout still gets asked.
    answer = await confirm({message, default: false}, {output: process.stderr})
  } catch (error) {
    if ((error as Error).name === 'ExitPromptError') {
      throw new UserError('Interrupted; nothing was changed.', {code: 'interrupted', exitCode: ExitCode.interrupted})
    }
    throw error
  }
  if (answer) return
  if (term.json)
    throw new UserError('Cancelled; nothing was changed.', {code: 'cancelled', exitCode: ExitCode.cancelled})
  err('Cancelled; nothing was changed.')
  throw new ResultExit(ExitCode.cancelled)
}
