import {Args} from '@oclif/core'

import {BaseCommand} from '../../cli/base-command.js'
import {ExitCode} from '../../lib/exit-codes.js'
import type {LayoutValidation} from '../../lib/layout/validate.js'

export default class LayoutValidate extends BaseCommand<typeof LayoutValidate> {
  static override summary = 'Check a layout file without connecting: keys, values, durations, overlapping subjects.'
  static override description =
    'Reads a layout file (YAML or JSON, "-" for stdin) and reports every problem with its path, such as streams.DV_CMD.max_age. Exits 2 when the file is invalid. Nothing connects to a server.'
  static override examples = [
    '<%= config.bin %> <%= command.id %> layout.yaml',
    'cat layout.json | <%= config.bin %> <%= command.id %> - --json',
  ]
  static override args = {
    file: Args.string({description: 'Layout file (YAML or JSON), or - for stdin.', required: true}),
  }

  async run(): Promise<LayoutValidation> {
    const {validateLayoutFile} = await import('../../lib/layout/validate.js')
    const result = await validateLayoutFile(this.args.file)
    if (!this.jsonEnabled()) {
      const {renderProblems, renderValidation} = await import('../../lib/render/layout.js')
      if (result.valid) renderValidation(result)
      else renderProblems(result.file, result.problems)
    }
    return this.exitWith(result, result.valid ? ExitCode.ok : ExitCode.usage)
  }
}
