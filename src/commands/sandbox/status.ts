import {Flags} from '@oclif/core'

import {BaseCommand} from '../../cli/base-command.js'
import {wideFlag} from '../../cli/flags.js'
import {ExitCode} from '../../lib/exit-codes.js'
import {renderSandbox} from '../../lib/render/sandbox.js'
import type {SandboxResult} from '../../lib/sandbox/sandbox.js'

export default class SandboxStatus extends BaseCommand<typeof SandboxStatus> {
  static override summary = "Show the sandbox's sites and whether each server is running."
  static override description =
    'Exit 0 when every server of the sandbox is running, 4 when one is not (the result still lists them), 5 when there is no sandbox.'
  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --dir /tmp/dv-sandbox --json',
  ]
  static override flags = {dir: Flags.string({summary: 'Sandbox directory.'}), wide: wideFlag}

  async run(): Promise<SandboxResult> {
    const {sandboxStatus} = await import('../../lib/sandbox/sandbox.js')
    const result = await sandboxStatus({dir: this.flags.dir})
    if (!this.jsonEnabled()) await renderSandbox(this.term, result)
    return this.exitWith(result, result.sites.every((s) => s.running) ? ExitCode.ok : ExitCode.unavailable)
  }
}
