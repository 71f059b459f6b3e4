import {Args, Flags} from '@oclif/core'

import {BaseCommand} from '../../cli/base-command.js'
import {parseSubject, type SubjectAnalysis} from '../../lib/contract/taxonomy.js'
import {ExitCode} from '../../lib/exit-codes.js'
import {renderSubjectAnalysis} from '../../lib/render/contract.js'

export default class ContractSubject extends BaseCommand<typeof ContractSubject> {
  static override summary = 'Check a NATS subject against the Dataverket subject taxonomy.'
  static override description = `The families are dv.<service>.cmd.<action>, dv.<service>.evt.<entity>.<verb>, dv.task.evt.<verb> and dv.rpc.<service>.<operation>; tokens are [a-z][a-z0-9_]*; services are sentral, identitet, maskin, plattform, tjeneste, objekt and nett ("task" and "rpc" are reserved). Prints the family and parts, or each problem with its code; an invalid subject exits 2.`
  static override examples = [
    '<%= config.bin %> <%= command.id %> dv.maskin.cmd.provision',
    '<%= config.bin %> <%= command.id %> dv.task.evt.updated --strict',
    "<%= config.bin %> <%= command.id %> 'dv.*.cmd.>' --filter --json",
  ]

  static override args = {
    subject: Args.string({
      required: true,
      description: 'The subject to check (a filter with --filter).',
    }),
  }

  static override flags = {
    strict: Flags.boolean({summary: 'Treat task verbs outside the ADR minimum as errors, not warnings.'}),
    filter: Flags.boolean({summary: 'Check a subscription filter: "*" and ">" allowed where they make sense.'}),
  }

  async run(): Promise<SubjectAnalysis> {
    const analysis = parseSubject(this.args.subject, {strict: this.flags.strict, allowWildcards: this.flags.filter})
    if (!this.jsonEnabled()) renderSubjectAnalysis(this.term, analysis)
    return this.exitWith(analysis, analysis.valid ? ExitCode.ok : ExitCode.usage)
  }
}
