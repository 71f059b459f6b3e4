import type {Hook, Interfaces} from '@oclif/core'

import {currentOutput} from '../lib/context.js'
import {UserError, toErrorJson} from '../lib/errors.js'
import {ExitCode} from '../lib/exit-codes.js'
import {suggest} from '../lib/suggest.js'
import {jsonText, sanitize} from '../lib/render/text.js'

/**
 * An unknown command gets the house error (exit 2, JSON with --json) and the nearest commands, instead of
 * oclif's bare "command dlq:lst not found".
 */
const hook: Hook.CommandNotFound = async function (options) {
  const typed = options.id.replaceAll(':', ' ')
  const error = extraArguments(options.id, options.config) ?? unknownCommand(typed, options.config)
  if ((options.argv ?? []).includes('--json')) {
    currentOutput().write(jsonText(toErrorJson(error), 2) + '\n')
  } else {
    currentOutput().writeErr(`Error: ${error.message}\nHint: ${error.hint}\n`)
  }
  process.exitCode = error.exitCode
}

/**
 * oclif joins words to a command id while the command found so far takes no arguments, so `dlq list a b` arrives
 * here as the id `dlq:list:a:b`: that is a known command given arguments it does not take.
 */
function extraArguments(id: string, config: Interfaces.Config): UserError | undefined {
  const words = id.split(':')
  for (let n = words.length - 1; n > 0; n--) {
    const command = config.findCommand(words.slice(0, n).join(':'))
    if (!command) continue
    const name = words.slice(0, n).join(' ')
    const extra = words.slice(n).map((word) => `"${sanitize(word)}"`)
    return new UserError(`dvctl ${name} takes no argument; unexpected ${extra.join(' ')}.`, {
      code: 'usage',
      exitCode: ExitCode.usage,
      hint: `See dvctl ${name} --help for its flags.`,
    })
  }
  return undefined
}

function unknownCommand(typed: string, config: Interfaces.Config): UserError {
  const ids = config.commands.filter((c) => !c.hidden).map((c) => c.id.replaceAll(':', ' '))
  // Prefer commands of the same topic (`dlq lst` -> `dlq list`), then any command.
  const topic = typed.includes(' ') ? typed.slice(0, typed.lastIndexOf(' ') + 1) : ''
  const sameTopic = topic ? ids.filter((id) => id.startsWith(topic)) : []
  const near = sameTopic.length ? suggest(typed, sameTopic) : []
  const candidates = near.length ? near : suggest(typed, ids)
  const hint = candidates.length
    ? `Did you mean ${candidates.map((c) => `dvctl ${c}`).join(', or ')}?`
    : 'Run dvctl --help for the list of commands.'
  return new UserError(`Unknown command "${sanitize(typed)}".`, {
    code: 'unknown-command',
    exitCode: ExitCode.usage,
    hint,
  })
}

export default hook
