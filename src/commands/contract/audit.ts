import {Flags} from '@oclif/core'

import {BaseCommand} from '../../cli/base-command.js'
import {constantHelp, durationFlag, readFlags, schemasFlag, wideFlag} from '../../cli/flags.js'
import type {ContractAuditResult} from '../../lib/contract/audit.js'
import {ResultExit, usageError} from '../../lib/errors.js'
import {ExitCode} from '../../lib/exit-codes.js'
import {resolveWindow} from '../../lib/workflow/window.js'

/** `--fail-over 5` or `5%`: a share of messages, 0 to 100. */
const percentFlag = Flags.custom<number>({
  parse: async (input) => {
    const value = Number(input.trim().replace(/%$/, ''))
    if (input.trim() === '' || !Number.isFinite(value) || value < 0 || value > 100) {
      throw usageError(
        `Invalid --fail-over "${input}": give a percentage from 0 to 100.`,
        'bad-percent',
        "For example --fail-over 5 (or 5%): fail when more than 5% of any service's messages break a rule.",
      )
    }
    return value
  },
  helpValue: '<percent>',
})

export default class ContractAudit extends BaseCommand<typeof ContractAudit> {
  static override summary = 'Audit stored traffic against the contract, per emitting service and message type.'
  static override description = `Reads DV_CMD, DV_EVT and DV_TASK (or --stream) of each selected site (--site repeated, or --all-sites) within --since (default 24h) and checks every message with the validator of "contract validate", on its subject. Per emitting service (the envelope source) and message type: messages seen, and the share breaking each rule: subject (taxonomy), envelope (fields), time (RFC 3339 UTC), correlation (correlation_id), causation (causation_id on events and task events that do not open their own workflow), schema (no registered payload schema, or not the version dataschema names), payload (schema violations), size (over the smallest max_payload of the sites read, not UTF-8, or embedded base64). Below the table, the first and last offending message of each kind, with the command that opens it (workflow show, or tail at its time).

With --fail-over PERCENT it exits 10 when any service has more than that share of messages breaking a rule, so it can run in CI or cron against a staging site. A site that cannot be read is reported and the others audited (exit 68); none: exit 4. On a terminal the tables fit the window (--wide: every column whole); piped, every column, tab-separated, without a header row.`
  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --all-sites --since 7d --fail-over 1',
    '<%= config.bin %> <%= command.id %> --service maskin --stream DV_EVT --json',
  ]

  static override flags = {
    ...readFlags,
    since: durationFlag({
      summary: 'How far back to read (0: the whole streams).',
      default: 24 * 3_600_000,
      defaultHelp: constantHelp('24h'),
    }),
    stream: Flags.string({
      summary: 'Read this stream instead of DV_CMD, DV_EVT and DV_TASK (repeatable).',
      multiple: true,
    }),
    service: Flags.string({
      summary: 'Only messages emitted by this service (the envelope source; repeatable).',
      multiple: true,
    }),
    'fail-over': percentFlag({
      summary: "Exit 10 when more than this percentage of any service's messages break a rule.",
    }),
    schemas: schemasFlag,
    wide: wideFlag,
  }

  async run(): Promise<ContractAuditResult> {
    const {flags} = this
    const window = resolveWindow({since: flags.since})
    const fan = await this.connectMany({allSites: flags['all-sites']})
    const [{resolvePayloadRegistry}, {auditContract}] = await Promise.all([
      import('../../lib/contract/schemas.js'),
      import('../../lib/contract/audit.js'),
    ])
    const registry = await resolvePayloadRegistry({schemasDir: flags.schemas ?? this.env.DVCTL_SCHEMAS})
    const result = await auditContract(fan.connections, {
      window,
      streams: flags.stream,
      services: flags.service,
      registry,
      failOver: flags['fail-over'],
      unreachable: fan.sites,
      signal: this.signal,
    })
    if (this.interrupted) throw new ResultExit(ExitCode.interrupted)
    const {siteReadOutcome} = await import('../../cli/site-reads.js')
    const sites = siteReadOutcome(result.sites, fan, 'skipped; the other sites were audited')
    if (!this.jsonEnabled()) {
      const {renderAudit} = await import('../../lib/render/contract.js')
      await renderAudit(this.term, result)
    }
    // Over --fail-over is the finding a CI job waits for (exit 10, as drift is); else a lost site is 68.
    const code = result.over.length > 0 ? ExitCode.drift : sites
    return this.exitWith(result, code)
  }
}
