import {Command, Errors, Flags, type Interfaces} from '@oclif/core'

import {resolveSites} from '../lib/config/resolve.js'
import type {SiteTarget} from '../lib/config/site.js'
import {ResultExit, UserError, toErrorJson} from '../lib/errors.js'
import {ExitCode, type ExitCodeValue} from '../lib/exit-codes.js'
import type {SiteConnection} from '../lib/nats/connection.js'
import type {FanOut} from '../lib/nats/fanout.js'
import {flushed, isOutputClosed} from '../lib/render/output.js'
import {natsUserError} from '../lib/nats/errors.js'
import {err, makeTerminal, out, warn, type Terminal} from '../lib/render/terminal.js'
import {jsonText} from '../lib/render/text.js'
import {durationFlag} from './flags.js'

export type BaseFlags<T extends typeof Command> = Interfaces.InferredFlags<
  (typeof BaseCommand)['baseFlags'] & T['flags']
>
export type BaseArgs<T extends typeof Command> = Interfaces.InferredArgs<T['args']>

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
      summary: 'Site (datacenter) name from the config; repeat it for commands that read several sites.',
      multiple: true,
    }),
    creds: Flags.string({helpGroup: 'GLOBAL', summary: 'NATS credentials file (also NATS_CREDS).'}),
    timeout: durationFlag({
      helpGroup: 'GLOBAL',
      summary: 'Time allowed to connect, for each server request, and for a read to hear from its server.',
      default: 5000,
      defaultHelp: async () => '5s',
    }),
    'no-color': Flags.boolean({helpGroup: 'GLOBAL', summary: 'Plain output without colour (also NO_COLOR).'}),
    'no-input': Flags.boolean({helpGroup: 'GLOBAL', summary: 'Never prompt; a needed confirmation is refused.'}),
  }

  protected flags!: BaseFlags<T>
  protected args!: BaseArgs<T>
  protected term!: Terminal
  private readonly connections: SiteConnection[] = []

  public override async init(): Promise<void> {
    await super.init()
    const {args, flags} = await this.parse({
      flags: this.ctor.flags,
      baseFlags: (super.ctor as typeof BaseCommand).baseFlags,
      enableJsonFlag: this.ctor.enableJsonFlag,
      args: this.ctor.args,
      strict: this.ctor.strict,
    })
    this.flags = flags as BaseFlags<T>
    this.args = args as BaseArgs<T>
    this.term = makeTerminal({
      json: this.jsonEnabled(),
      noColor: Boolean(this.flags['no-color']),
      noInput: Boolean(this.flags['no-input']),
    })
  }

  /** The sites chosen by the global flags and environment. */
  protected async siteTargets(options: {allSites?: boolean} = {}): Promise<SiteTarget[]> {
    return resolveSites({
      server: this.flags.server,
      site: this.flags.site,
      creds: this.flags.creds,
      // Commands that spread `readFlags` (src/lib/nats/fanout.ts) get `--all-sites` honoured here.
      allSites: options.allSites ?? Boolean((this.flags as Record<string, unknown>)['all-sites']),
    })
  }

  /** Connects to exactly one site; the connection is closed when the command ends. */
  protected async connectOne(): Promise<SiteConnection> {
    const targets = await this.siteTargets()
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
  protected async connectMany(options: {allSites?: boolean} = {}): Promise<FanOut> {
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
   * `--json` output is never coloured (DESIGN.md section 8), so it is plain JSON.stringify: oclif's
   * colouriser takes seconds on a large result (10k dead letters: ~7s against ~0.5s). jsonText falls back
   * to an iterative writer for a result holding a message nested too deep for JSON.stringify.
   */
  public override logJson(json: unknown): void {
    out(jsonText(json, 2))
  }

  protected override async catch(error: Error & {exitCode?: number; oclif?: {exit?: number}}): Promise<unknown> {
    // The reader went away (`| head`): what it wanted was delivered; that is a clean end.
    if (isOutputClosed()) return this.exit(ExitCode.ok)
    if (error instanceof ResultExit) return this.exit(error.exitCode)
    if (error instanceof Errors.ExitError) throw error
    const userError = toUserError(error)
    if (this.jsonEnabled()) {
      this.logJson(toErrorJson(userError))
    } else {
      err(`Error: ${userError.message}`)
      if (userError.hint) err(`Hint: ${userError.hint}`)
      if (userError.exitCode === ExitCode.bug) {
        err(
          process.env.DEBUG
            ? (error.stack ?? '')
            : 'This is a bug in dvctl. Run again with DEBUG=dvctl* for the stack.',
        )
      }
    }
    return this.exit(userError.exitCode)
  }

  protected override async finally(error: Error | undefined): Promise<unknown> {
    await Promise.allSettled(this.connections.map((c) => c.close()))
    // A pipe may still hold output: oclif ends a failing command with process.exit, which would drop it.
    await flushed()
    return super.finally(error)
  }
}

/** Maps anything thrown to a UserError; unknown errors become a bug (exit 1). */
export function toUserError(error: Error & {oclif?: {exit?: number}; code?: string}): UserError {
  if (error instanceof UserError) return error
  if (
    error instanceof Errors.CLIError &&
    (error.oclif?.exit === 2 || error.name.includes('Parse') || /flag|argument/i.test(error.message))
  ) {
    return new UserError(error.message.replace(/\n\s*See more help with --help$/, ''), {
      code: 'usage',
      exitCode: ExitCode.usage,
      hint: 'See --help for the flags and arguments.',
    })
  }
  if (error.code === 'SIGINT' || error.name === 'AbortError') {
    return new UserError('Interrupted.', {code: 'interrupted', exitCode: ExitCode.interrupted})
  }
  const fromNats = natsUserError(error)
  if (fromNats) return fromNats
  return new UserError(`Unexpected error: ${error.message}`, {code: 'bug', exitCode: ExitCode.bug})
}
