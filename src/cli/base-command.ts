import {Command, Errors, Flags, type Interfaces} from '@oclif/core'

import type {SiteTarget} from '../lib/config/site.js'
import {ResultExit, UserError, toErrorJson} from '../lib/errors.js'
import {ExitCode, type ExitCodeValue} from '../lib/exit-codes.js'
import type {SiteConnection} from '../lib/nats/connection.js'
import type {FanOut} from '../lib/nats/fanout.js'
import {currentContext, currentOutput, type CliContext} from '../lib/context.js'
import type {Output} from '../lib/render/output.js'
import {err, makeTerminal, out, warn, type Terminal} from '../lib/render/terminal.js'
import {jsonPieces, jsonText, sanitize} from '../lib/render/text.js'
import {constantHelp, durationFlag} from './flags.js'
import {knownFlagNames, parseErrorMessage, parseErrors, type NonExistentFlagsError} from './parse-errors.js'

export type BaseFlags<T extends typeof Command> = Interfaces.InferredFlags<
  (typeof BaseCommand)['baseFlags'] & T['flags']
>
export type BaseArgs<T extends typeof Command> = Interfaces.InferredArgs<T['args']>

/** Which sites a command works on, beyond the global `--site`/`--server` and the environment. */
export interface SiteChoice {
  /** The command's `--all-sites`. */
  allSites?: boolean
  /** Site names to use instead of `--site` (`site check NAME...`). */
  sites?: string[]
  /** A site named by the arguments (a dead letter's `<site>/<stream>:<seq>`), when neither --site nor --server is given. */
  impliedSite?: string
}

/**
 * Owns the global flags, `--json`, connections (closed in `finally`) and the one error model:
 * a UserError exits with its code and a hint; anything else is a bug (exit 1, stack with DEBUG).
 */
export abstract class BaseCommand<T extends typeof Command> extends Command {
  static override enableJsonFlag = true

  static override baseFlags = {
    server: Flags.string({
      helpGroup: 'GLOBAL',
      summary: 'NATS URL to use, overriding --site, DV_SITE and NATS_URL.',
      env: undefined,
    }),
    site: Flags.string({
      helpGroup: 'GLOBAL',
      summary: 'Site (datacenter) name from the config, one per flag; repeat it for commands that read several sites.',
      multiple: true,
      // One value per occurrence: `layout plan --site osl1 FILE` leaves FILE to the arguments.
      multipleNonGreedy: true,
    }),
    creds: Flags.string({helpGroup: 'GLOBAL', summary: 'NATS credentials file (also NATS_CREDS).'}),
    timeout: durationFlag({
      helpGroup: 'GLOBAL',
      summary:
        'Time allowed to connect, for each server request, and for a read to hear from its server; waits have --wait-timeout.',
      default: 5000,
      defaultHelp: constantHelp('5s'),
    }),
    'no-color': Flags.boolean({helpGroup: 'GLOBAL', summary: 'Plain output without colour (also NO_COLOR).'}),
    'no-input': Flags.boolean({helpGroup: 'GLOBAL', summary: 'Never prompt; a needed confirmation is refused.'}),
  }

  protected flags!: BaseFlags<T>
  protected args!: BaseArgs<T>
  /** The arguments in order, a variadic one's values included (`dlq replay REF...`). */
  protected argList!: string[]
  protected term!: Terminal
  /** Where this command's output goes (docs/architecture.md): the process's streams, or a test's buffer. */
  protected io!: Output
  /** The environment this command reads (config path, NATS_URL, DV_SITE...): nothing reads process.env. */
  protected env!: NodeJS.ProcessEnv
  private context!: CliContext
  private readonly connections: SiteConnection[] = []
  private interrupt?: {controller: AbortController; release(): void}

  public override async init(): Promise<void> {
    await super.init()
    this.context = currentContext()
    this.io = this.context.output
    this.env = this.context.env
    const {args, argv, flags} = await this.parse({
      flags: this.ctor.flags,
      baseFlags: (super.ctor as typeof BaseCommand).baseFlags,
      enableJsonFlag: this.ctor.enableJsonFlag,
      args: this.ctor.args,
      strict: this.ctor.strict,
    })
    this.flags = flags as BaseFlags<T>
    this.args = args as BaseArgs<T>
    this.argList = argv as string[]
    this.term = makeTerminal(this.io, this.env, {
      json: this.jsonEnabled(),
      noColor: Boolean(this.flags['no-color']),
      noInput: Boolean(this.flags['no-input']),
      // A command's own `--wide` (cli/flags.ts): every command that prints a table has one.
      wide: Boolean((this.flags as {wide?: boolean}).wide),
    })
  }

  /**
   * The one interrupt of this command, for the services it calls: aborted by the first SIGINT or SIGTERM
   * (a second one exits at once with 130), or by the caller's signal when run in-process. Asked for only by
   * commands that stop cleanly on it; a command that never asks keeps the default: a signal ends it.
   */
  protected get signal(): AbortSignal {
    this.interrupt ??= listenForInterrupt(this.context.signal)
    return this.interrupt.controller.signal
  }

  /** Whether the command was interrupted (Ctrl-C), as opposed to ending by itself. */
  protected get interrupted(): boolean {
    return this.interrupt?.controller.signal.aborted ?? false
  }

  /**
   * The sites chosen by the global flags and environment, and by what the command passes: its
   * `--all-sites`, the site names it was given (instead of `--site`), or a site implied by its arguments.
   */
  protected async siteTargets(options: SiteChoice = {}): Promise<SiteTarget[]> {
    const {server, creds} = this.flags
    const site = options.sites ?? this.flags.site
    // The config (YAML, its schema) is read only by commands that pick a site, not by --help or offline ones.
    const {resolveSites} = await import('../lib/config/resolve.js')
    return resolveSites(
      {
        server,
        site: !site?.length && !server && options.impliedSite ? [options.impliedSite] : site,
        creds,
        allSites: Boolean(options.allSites),
      },
      this.env,
    )
  }

  /** Connects to exactly one site; the connection is closed when the command ends. */
  protected async connectOne(options: SiteChoice = {}): Promise<SiteConnection> {
    const targets = await this.siteTargets(options)
    if (targets.length > 1) {
      throw new UserError('This command works on one site at a time; give one --site.', {
        code: 'one-site-only',
        exitCode: ExitCode.usage,
      })
    }
    const {connectSite} = await import('../lib/nats/connection.js')
    const conn = await connectSite(targets[0], {timeoutMs: this.flags.timeout})
    this.connections.push(conn)
    return conn
  }

  /**
   * Connects to every selected site concurrently (`--site` repeated, `--all-sites`). Unreachable sites are
   * warned about on stderr and listed in `sites`; when none is reachable this throws (exit 4).
   */
  protected async connectMany(options: SiteChoice = {}): Promise<FanOut> {
    const targets = await this.siteTargets(options)
    const {connectSites} = await import('../lib/nats/fanout.js')
    const fan = await connectSites(targets, {timeoutMs: this.flags.timeout})
    this.connections.push(...fan.connections)
    for (const failure of fan.failures) warn(`${failure.message} (skipped; the other sites are still read)`)
    return fan
  }

  /** Registers a connection opened elsewhere so that it is closed when the command ends. */
  protected adopt(conn: SiteConnection): SiteConnection {
    this.connections.push(conn)
    return conn
  }

  /**
   * Ends with a non-zero exit code while still delivering the result (drift, partial success,
   * watched failure): prints it as JSON when `--json`, then exits with `code`.
   */
  protected exitWith<R>(result: R, code: ExitCodeValue): R {
    if (code === ExitCode.ok) return result
    if (this.jsonEnabled()) this.logJson(result)
    throw new ResultExit(code)
  }

  /**
   * `--json` output is never coloured (docs/architecture.md, "JSON results"), so it is plain JSON.stringify: oclif's
   * colouriser takes seconds on a large result (10k dead letters: ~7s against ~0.5s). jsonText falls back
   * to an iterative writer for a result holding a message nested too deep for JSON.stringify.
   */
  /** Whether `--json` output is NDJSON, one line per item (tail, task watch, workflow show --follow). */
  protected streamsNdjson(): boolean {
    return false
  }

  public override logJson(json: unknown): void {
    // In pieces: a listing of 100,000 items is 95 MB of JSON, which one string would hold twice (jsonPieces).
    const output = this.io ?? currentOutput()
    for (const piece of jsonPieces(json, 2)) output.write(piece)
    output.write('\n')
  }

  protected override async catch(error: Error & {exitCode?: number; oclif?: {exit?: number}}): Promise<unknown> {
    // The reader went away (`| head`): what it wanted was delivered; that is a clean end.
    if (this.io?.isClosed()) return this.exit(ExitCode.ok)
    if (error instanceof ResultExit) return this.exit(error.exitCode)
    if (error instanceof Errors.ExitError) throw error
    const userError = this.keepSelection(await toUserError(error))
    if (this.jsonEnabled()) {
      // A command that streams NDJSON ends with its error as one more line, so the stream stays parseable.
      if (this.streamsNdjson()) out(jsonText(toErrorJson(userError)))
      else this.logJson(toErrorJson(userError))
    } else {
      err(`Error: ${userError.message}`)
      if (userError.hint) err(`Hint: ${userError.hint}`)
      if (userError.exitCode === ExitCode.bug) {
        err(
          this.env?.DEBUG ? (error.stack ?? '') : 'This is a bug in dvctl. Run again with DEBUG=dvctl* for the stack.',
        )
      }
    }
    return this.exit(userError.exitCode)
  }

  /**
   * A hint that suggests another dvctl command that works on a site (`dvctl layout apply`) gets the user's own
   * site selection (`--site osl1`, `--server URL`), so that following it acts on the same site.
   */
  private keepSelection(error: UserError): UserError {
    const {site, server} = (this.flags ?? {}) as {site?: string[]; server?: string}
    const selection = server ? `--server ${server}` : (site ?? []).map((name) => `--site ${name}`).join(' ')
    if (!error.hint || !selection) return error
    const hint = withSelection(error.hint, siteCommandIds(this.config.commands), selection)
    if (hint === error.hint) return error
    return new UserError(error.message, {code: error.code, exitCode: error.exitCode, hint, cause: error.cause})
  }

  protected override async finally(error: Error | undefined): Promise<unknown> {
    this.interrupt?.release()
    await Promise.allSettled(this.connections.map((c) => c.close()))
    // A pipe may still hold output: oclif ends a failing command with process.exit, which would drop it.
    await (this.io ?? currentOutput()).flushed()
    return super.finally(error)
  }
}

/**
 * Maps anything thrown to a UserError; unknown errors become a bug (exit 1). The NATS translation is imported
 * here, when it is needed: it loads the NATS client, which a command that never connects does not need.
 */
export async function toUserError(error: Error & {oclif?: {exit?: number}; code?: string}): Promise<UserError> {
  if (error instanceof UserError) return error
  const {CLIParseError, NonExistentFlagsError} = parseErrors()
  if (error instanceof NonExistentFlagsError) return await unknownFlagError(error)
  // The parser's own errors, and the plain CLIErrors it throws for a flag's value (exit 2 by default).
  if (error instanceof CLIParseError || (error instanceof Errors.CLIError && error.oclif?.exit === ExitCode.usage)) {
    const message =
      error instanceof CLIParseError
        ? parseErrorMessage(error)
        : error.message.replace(/\n\s*See more help with --help$/, '')
    // The parser quotes what was typed (an unexpected argument, a flag's value): shown, never obeyed.
    return new UserError(sanitize(message, 'block'), {
      code: 'usage',
      exitCode: ExitCode.usage,
      hint: 'See --help for the flags and arguments.',
    })
  }
  if (error.code === 'SIGINT' || error.name === 'AbortError') {
    return new UserError('Interrupted.', {code: 'interrupted', exitCode: ExitCode.interrupted})
  }
  const {natsUserError} = await import('../lib/nats/errors.js')
  const fromNats = natsUserError(error)
  if (fromNats) return fromNats
  return new UserError(`Unexpected error: ${error.message}`, {code: 'bug', exitCode: ExitCode.bug})
}

/** Topics whose commands do not act on a site the user selects (the config, the sandbox, offline checks). */
const OFFLINE_TOPICS = new Set(['site', 'sandbox', 'contract'])

/** The ids (`layout apply`) of the commands that act on the selected site, longest first. */
function siteCommandIds(commands: ReadonlyArray<{id: string}>): string[] {
  return commands
    .map((c) => c.id.replaceAll(':', ' '))
    .filter((id) => !OFFLINE_TOPICS.has(id.split(' ')[0]))
    .sort((a, b) => b.length - a.length)
}

/** `... with dvctl layout apply.` -> `... with dvctl layout apply --site osl1.` for each such command named. */
export function withSelection(hint: string, ids: readonly string[], selection: string): string {
  if (!ids.length) return hint
  const escaped = ids.map((id) => id.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
  const command = new RegExp(`\\bdvctl (${escaped.join('|')})(?=$|[\\s.,;:)])`, 'g')
  return hint.replace(command, (_, id: string) => `dvctl ${id} ${selection}`)
}

/** `--stauts`: the house usage error naming the flag, with the command's nearest flags as "did you mean". */
async function unknownFlagError(error: NonExistentFlagsError): Promise<UserError> {
  const typed = error.flags.map((flag) => sanitize(flag))
  const first = typed[0]?.replace(/^-+/, '').replace(/=.*$/, '') ?? ''
  // Loaded on this path only: a command that starts well never needs it.
  const {suggest} = await import('../lib/suggest.js')
  const near = suggest(first, knownFlagNames(error))
  return new UserError(`Unknown flag${typed.length === 1 ? '' : 's'} ${typed.join(', ')}.`, {
    code: 'unknown-flag',
    exitCode: ExitCode.usage,
    hint: near.length
      ? `Did you mean ${near.map((name) => `--${name}`).join(', or ')}?`
      : 'See --help for the flags and arguments.',
  })
}

/**
 * The first SIGINT or SIGTERM aborts (the command winds down: consumers deleted, a summary printed, exit
 * 130); a second one exits at once with 130. With a caller's signal (an in-process run), that signal is the
 * interrupt and no process handler is installed.
 */
function listenForInterrupt(given: AbortSignal | undefined): {controller: AbortController; release(): void} {
  const controller = new AbortController()
  if (given) {
    const abort = () => controller.abort()
    if (given.aborted) abort()
    else given.addEventListener('abort', abort, {once: true})
    return {controller, release: () => given.removeEventListener('abort', abort)}
  }
  const onSignal = () => {
    if (controller.signal.aborted) process.exit(ExitCode.interrupted)
    controller.abort()
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  return {
    controller,
    release: () => {
      process.off('SIGINT', onSignal)
      process.off('SIGTERM', onSignal)
    },
  }
}
