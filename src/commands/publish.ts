import {Args, Flags} from '@oclif/core'

import {BaseCommand} from '../cli/base-command.js'
import {envelopeFlags, waitTimeoutFlag} from '../cli/flags.js'
import {formatDuration} from '../lib/duration.js'
import {ResultExit} from '../lib/errors.js'
import {ExitCode} from '../lib/exit-codes.js'
import type {BuiltMessage, EnvelopeInput} from '../lib/publish/envelope.js'
import {readPayload, readStdin} from '../lib/publish/flags.js'
import type {PublishResult} from '../lib/publish/publish.js'

export default class Publish extends BaseCommand<typeof Publish> {
  static override summary = 'Publish a validated test command (or event, or task event) to JetStream.'
  static override description = `Builds the envelope from the flags (id, time and correlation_id filled in; source sentral, actor from the config or the OS user, datacenter_id from the site) and checks subject, envelope and payload schema before anything is sent: a violation sends nothing and exits 2 with every problem listed. The message is published with Nats-Msg-Id = envelope id (re-publishing an id within the duplicate window stores nothing and reports duplicate: true) and header Dv-Origin: dvctl.

--wait then watches the task events of the message's correlation until every task is terminal: exit 0 when all succeeded, 8 when any failed or was cancelled, 9 after --wait-timeout (default 5m). --timeout bounds only connecting and each request.`
  static override examples = [
    `<%= config.bin %> <%= command.id %> dv.maskin.cmd.provision --data '{"server_id":"srv-1","profile":"small"}' --tenant t1`,
    `<%= config.bin %> <%= command.id %> dv.maskin.cmd.provision --data-file provision.json --wait --wait-timeout 2m`,
    `echo '{"network_id":"net-7"}' | <%= config.bin %> <%= command.id %> dv.nett.cmd.apply --data - --dry-run`,
    `<%= config.bin %> <%= command.id %> dv.maskin.cmd.provision --interactive`,
  ]

  static override args = {
    subject: Args.string({
      description: 'Subject: dv.<service>.cmd.<action>, dv.<service>.evt.<entity>.<verb> or dv.task.evt.<verb>.',
      required: true,
    }),
  }

  static override flags = {
    ...envelopeFlags,
    interactive: Flags.boolean({
      char: 'i',
      summary:
        "Prompt for the envelope fields and the payload, guided by the type's registered schema; shows the message and asks before sending.",
      exclusive: ['data', 'data-file'],
    }),
    'dry-run': Flags.boolean({summary: 'Validate and print the envelope; send nothing.'}),
    strict: Flags.boolean({
      summary: 'Refuse a message whose type has no registered payload schema (a warning otherwise).',
    }),
    wait: Flags.boolean({summary: 'Then watch its tasks until done: exit 0 succeeded, 8 failed/cancelled, 9 timeout.'}),
    'wait-timeout': waitTimeoutFlag('How long --wait waits for the tasks to end before exit 9 (default 5m).', {
      dependsOn: ['wait'],
    }),
  }

  async run(): Promise<PublishResult> {
    const {flags} = this
    const subject = this.args.subject
    const [target] = await this.siteTargets()
    const {messageSender} = await import('../lib/publish/prepare.js')
    const sender = await messageSender(
      'publish',
      subject,
      {...flags, schemas: flags.schemas ?? this.env.DVCTL_SCHEMAS},
      target,
    )

    let input: EnvelopeInput
    if (flags.interactive) {
      const {promptEnvelope} = await import('../lib/publish/interactive.js')
      input = await promptEnvelope(this.term, {subject, registry: sender.registry, defaults: sender.input({})})
    } else {
      input = sender.input(await readPayload(flags, readStdin))
    }

    // Everything is checked before connecting; what needs the server (datacenter_id of a site known only by
    // URL, max_payload) is checked again once connected, before sending.
    let message = sender.build(input)
    if (message.problems.length > 0) return this.refuse(message)
    const {dryRunResult, publishMessage} = await import('../lib/publish/publish.js')
    const render = await import('../lib/render/publish.js')
    if (flags['dry-run']) {
      const result = dryRunResult(message, target?.name ?? null)
      if (!this.jsonEnabled()) render.renderPublishResult(this.term, result)
      return result
    }

    const conn = await this.connectOne()
    message = await sender.buildForSite(input, message, conn)
    if (message.problems.length > 0) return this.refuse(message)
    if (flags.interactive) {
      // What the answers built, shown before anything is sent, and asked about naming the site it goes to.
      render.renderEnvelopePreview(message)
      const {confirmOrRefuse} = await import('../lib/render/prompt.js')
      await confirmOrRefuse(this.term, `Publish ${message.subject}`, {
        yes: false,
        target: {site: conn.site.name, url: conn.url},
        refusedHint: "Give the payload with --data '{...}' instead of --interactive.",
      })
    }

    const {err} = await import('../lib/render/terminal.js')
    const {taskEventLine, failureLines} = await import('../lib/render/tasks.js')
    const {result, outcome} = await publishMessage(conn, {
      message,
      onPublished: (published) => {
        // --interactive showed the warnings with the message before asking; they are not said twice.
        if (!this.jsonEnabled())
          render.renderPublishResult(this.term, flags.interactive ? {...published, warnings: []} : published)
      },
      wait: flags.wait
        ? {
            timeoutMs: this.waitTimeout(),
            signal: this.signal,
            onItem: (item) => {
              if (this.jsonEnabled() || item.kind !== 'message' || !item.update) return
              err(taskEventLine(this.term, item.update))
            },
          }
        : undefined,
    })
    if (!flags.wait) return result
    if (!this.jsonEnabled()) {
      for (const line of failureLines(result.task?.tasks ?? [])) err(line)
      if (outcome === 'timeout') {
        err(
          `Timed out after ${formatDuration(this.waitTimeout())} waiting for the tasks of correlation ${result.envelope.correlation_id}.`,
        )
      }
      if (outcome === 'interrupted') {
        err(`Interrupted; the message stays published (${result.stream}:${result.seq}), its tasks were not waited for.`)
      }
    }
    const code =
      outcome === 'succeeded'
        ? ExitCode.ok
        : outcome === 'failed'
          ? ExitCode.workFailed
          : outcome === 'interrupted'
            ? ExitCode.interrupted
            : ExitCode.timeout
    return this.exitWith(result, code)
  }

  /** How long --wait waits: --wait-timeout, else 5 minutes. */
  private waitTimeout(): number {
    return this.flags['wait-timeout'] ?? 5 * 60_000
  }

  /** A message that breaks the contract: every problem listed, nothing sent, exit 2. */
  private async refuse(message: BuiltMessage): Promise<never> {
    const {refuseMessage} = await import('../lib/render/publish.js')
    refuseMessage(this.term, message, {dryRun: true})
    throw new ResultExit(ExitCode.usage)
  }
}
