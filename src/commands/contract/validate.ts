import {Args, Flags} from '@oclif/core'

import {BaseCommand} from '../../cli/base-command.js'
import {schemasFlag} from '../../cli/flags.js'
import type {ValidateResult} from '../../lib/contract/validate.js'
import {usageError} from '../../lib/errors.js'
import {ExitCode} from '../../lib/exit-codes.js'
import {renderValidation} from '../../lib/render/contract.js'

export default class ContractValidate extends BaseCommand<typeof ContractValidate> {
  static override summary = 'Validate message envelopes and payloads against the Dataverket contract.'
  static override description = `Reads one JSON envelope, a JSON array of envelopes, or NDJSON from FILE or stdin and checks every envelope and payload rule: required fields, RFC 3339 UTC time, known source, data as an object without embedded binary, and the payload's registered schema (dataschema <type>/v<N>, absent = v1). Give --subject to also check the NATS subject the messages travel on. Any invalid message exits 2; each problem has a JSON path and a stable code.`
  static override examples = [
    `echo '{"specversion":"1.0","id":"m1","type":"nett.apply.requested","source":"sentral","time":"2026-03-14T09:30:00Z","actor":"user:lars","correlation_id":"wf-1","data":{"network_id":"vpc-12"}}' | <%= config.bin %> <%= command.id %> --subject dv.nett.cmd.apply`,
    '<%= config.bin %> <%= command.id %> messages.ndjson',
    'cat envelope.json | <%= config.bin %> <%= command.id %> - --subject dv.maskin.cmd.provision --strict',
    '<%= config.bin %> <%= command.id %> batch.json --schemas ./schemas --json',
  ]

  static override args = {
    file: Args.string({
      description: 'File with a JSON envelope, a JSON array, or NDJSON; "-" or nothing reads stdin.',
    }),
  }

  static override flags = {
    strict: Flags.boolean({summary: 'Unknown task verbs are errors; unknown fields are reported as warnings.'}),
    schemas: schemasFlag,
    subject: Flags.string({
      summary: 'The NATS subject the messages are published on: checked, and matched against type.',
    }),
  }

  async run(): Promise<ValidateResult> {
    const file = this.args.file
    if ((file === undefined || file === '-') && this.term.stdinTTY) {
      throw usageError(
        'No input: give a FILE or pipe messages on stdin.',
        'usage',
        'dvctl contract validate messages.ndjson',
      )
    }
    const [{resolvePayloadRegistry}, {readDocumentSource, validateDocuments}] = await Promise.all([
      import('../../lib/contract/schemas.js'),
      import('../../lib/contract/validate.js'),
    ])
    const registry = await resolvePayloadRegistry({schemasDir: this.flags.schemas ?? this.env.DVCTL_SCHEMAS})
    const input = await readDocumentSource(file, this.io.stdin)
    const result = validateDocuments(input, {strict: this.flags.strict, subject: this.flags.subject, registry})
    if (!this.jsonEnabled()) renderValidation(this.term, result)
    return this.exitWith(result, result.valid ? ExitCode.ok : ExitCode.usage)
  }
}
