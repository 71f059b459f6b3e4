import {Args} from '@oclif/core'

import {BaseCommand} from '../cli/base-command.js'
import {envelopeFlags} from '../cli/flags.js'
import {ResultExit} from '../lib/errors.js'
import {ExitCode} from '../lib/exit-codes.js'
import type {BuiltMessage} from '../lib/publish/envelope.js'
import {readPayload, readStdin} from '../lib/publish/flags.js'
import type {RequestResult} from '../lib/publish/request.js'

export default class Request extends BaseCommand<typeof Request> {
  static override summary = 'Send a validated dv.rpc.* request and print the reply.'
  static override description = `Builds and validates the envelope exactly as publish does (a violation sends nothing, exit 2), sends it as a NATS request (header Dv-Origin: dvctl) and waits up to --timeout for one reply: JSON replies are pretty-printed, anything else is printed as is. No responder: exit 5. No reply in time: exit 9.`
  static override examples = [
    `<%= config.bin %> <%= command.id %> dv.rpc.identitet.introspect_token --data '{"token":"abc"}'`,
    `<%= config.bin %> <%= command.id %> dv.rpc.identitet.introspect_token --data '{"token":"abc"}' --timeout 2s --json`,
  ]

  static override args = {
    subject: Args.string({description: 'An RPC subject: dv.rpc.<service>.<operation>.', required: true}),
  }

  static override flags = {...envelopeFlags}

  async run(): Promise<RequestResult> {
    const {flags} = this
    const subject = this.args.subject
    const [target] = await this.siteTargets()
    const {messageSender} = await import('../lib/publish/prepare.js')
    const sender = await messageSender(
      'request',
      subject,
      {...flags, schemas: flags.schemas ?? this.env.DVCTL_SCHEMAS},
      target,
    )
    const input = sender.input(await readPayload(flags, readStdin))
    let message = sender.build(input)
    if (message.problems.length > 0) return this.refuse(message)
    const conn = await this.connectOne()
    message = await sender.buildForSite(input, message, conn)
    if (message.problems.length > 0) return this.refuse(message)
    const {requestReply} = await import('../lib/publish/request.js')
    const result = await requestReply(conn, {message, timeoutMs: flags.timeout})
    if (!this.jsonEnabled()) {
      const {renderRequestResult} = await import('../lib/render/publish.js')
      renderRequestResult(result)
    }
    return result
  }

  /** A request that breaks the contract: every problem listed, nothing sent, exit 2. */
  private async refuse(message: BuiltMessage): Promise<never> {
    const {refuseMessage} = await import('../lib/render/publish.js')
    refuseMessage(this.term, message, {dryRun: false})
    throw new ResultExit(ExitCode.usage)
  }
}
