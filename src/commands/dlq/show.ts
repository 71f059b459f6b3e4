import {Args} from '@oclif/core'

import {BaseCommand} from '../../cli/base-command.js'
import {siteOfRefs} from '../../lib/dlq/ref.js'
import type {DlqShowResult} from '../../lib/dlq/model.js'
import {renderDeadLetterShow} from '../../lib/render/dlq.js'

export default class DlqShow extends BaseCommand<typeof DlqShow> {
  static override summary = 'Inspect one dead letter with its context: advisory, original, failures, history, workflow.'
  static override description =
    "Shows the server's advisory, the original command's headers and envelope (pretty JSON), the task failed events that explain it, the ledger history (replays and discards: who, when, why), each replay with its outcome (pending, succeeded, failed or dead_lettered, from the task events caused by its copy and the copy's own dead letter; JSON: replays [{replay_id, seq, at, actor, outcome, error}]) and the workflow around it: the causation tree of its correlation, from a day before the command on. An original that DV_CMD no longer has is shown from the dead-letter archive (see dlq capture). A dead letter whose original is gone from both is still shown with everything else that is known."
  static override examples = [
    '<%= config.bin %> <%= command.id %> DV_CMD:42',
    '<%= config.bin %> <%= command.id %> DV_CMD:42 --json',
  ]

  static override args = {
    ref: Args.string({description: 'Dead-letter reference from dlq list: <stream>:<seq>.', required: true}),
  }

  async run(): Promise<DlqShowResult> {
    const conn = await this.connectOne({impliedSite: siteOfRefs([this.args.ref])})
    const {showDeadLetter} = await import('../../lib/dlq/show.js')
    const {workflowResult, ...result} = await showDeadLetter(conn, {ref: this.args.ref})
    if (!this.jsonEnabled()) await renderDeadLetterShow(this.term, result, workflowResult)
    return result
  }
}
