import {Flags} from '@oclif/core'

import {BaseCommand} from '../../cli/base-command.js'
import {renderSandboxDown} from '../../lib/render/sandbox.js'
import type {SandboxDownResult} from '../../lib/sandbox/sandbox.js'

export default class SandboxDown extends BaseCommand<typeof SandboxDown> {
  static override summary = 'Stop the sandbox servers and remove their state.'
  static override description =
    'Stops only the processes the sandbox started: a recorded pid is signalled only while it is still that nats-server (same config file). Without --keep it removes the stores, logs and the sandbox config, and the sites that sandbox up --register added to your config (the config file too, when sandbox up created it and nothing else is configured there). No sandbox is not an error.'
  static override examples = ['<%= config.bin %> <%= command.id %>', '<%= config.bin %> <%= command.id %> --keep']
  static override flags = {
    dir: Flags.string({summary: 'Sandbox directory.'}),
    keep: Flags.boolean({summary: 'Keep the state (stores, config) so that sandbox up restarts the same sites.'}),
  }

  async run(): Promise<SandboxDownResult> {
    const {sandboxDown} = await import('../../lib/sandbox/sandbox.js')
    const result = await sandboxDown({dir: this.flags.dir, keep: this.flags.keep})
    if (!this.jsonEnabled()) renderSandboxDown(result)
    return result
  }
}
