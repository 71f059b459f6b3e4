import {UserError} from '../lib/errors.js'
import {ExitCode, type ExitCodeValue} from '../lib/exit-codes.js'
import {natsHint} from '../lib/nats/errors.js'
import type {FanOut} from '../lib/nats/fanout.js'
import type {SiteReport} from '../lib/nats/site-report.js'
import {warn} from '../lib/render/terminal.js'

/**
 * What the sites of a read add up to: missing streams and sites reached but not fully read (a server that
 * stopped answering) are warnings, and the exit code is 68 when other sites were read; when none was, the
 * one error (or "No site could be read") is thrown with exit 4. Sites never reached were warned about when
 * connecting. `skipped` says what the other sites' results still are (`skipped; the other sites were audited`).
 */
export function siteReadOutcome(sites: readonly SiteReport[], fan: FanOut, skipped?: string): ExitCodeValue {
  const failed = sites.filter((s) => s.error && fan.connections.some((c) => c.site.name === s.site))
  for (const s of sites) {
    if (s.missing_streams?.length) warn(`site ${s.site} has no ${s.missing_streams.join(', ')} (skipped)`)
  }
  // Each error names its site already. When it is the only failure, it is the error and is said once.
  if (failed.length === fan.connections.length) {
    const only = failed.length === 1 ? failed[0] : undefined
    if (!only) for (const s of failed) warn(s.error!)
    const code = only?.code ?? 'connection-timeout'
    throw new UserError(only ? only.error! : 'No site could be read.', {
      code,
      exitCode: ExitCode.unavailable,
      hint: natsHint(code) ?? 'The server stopped answering. Check it (dvctl site check) or raise --timeout.',
    })
  }
  for (const s of failed) warn(skipped ? `${s.error!} (${skipped})` : s.error!)
  return failed.length > 0 ? ExitCode.partial : ExitCode.ok
}
