import {Args} from '@oclif/core'

import {BaseCommand} from '../../../cli/base-command.js'
import {resolveActor} from '../../../lib/dlq/actor.js'
import type {DlqJobsResult} from '../../../lib/dlq/model.js'
import {err} from '../../../lib/render/terminal.js'

export default class DlqJobsCancel extends BaseCommand<typeof DlqJobsCancel> {
  static override summary = 'Stop a running replay job after its in-flight messages (from any terminal).'
  static override description = `Sets the job's state to cancelling (a compare-and-set on its key in the KV bucket dv_dlq_runtime). The replay watches its key: it sends nothing more, waits for the acknowledgements already in flight, records them in the ledger, marks the job cancelled and exits 3 with what it sent. Running the same replay again sends the rest, each dead letter once. A job that has ended or whose process is gone (interrupted) cannot be cancelled (exit 6); an unknown id exits 5.`
  static override examples = ['<%= config.bin %> <%= command.id %> m4x1k2abc123']

  static override args = {
    id: Args.string({description: 'The job id (from dlq jobs).', required: true}),
  }

  async run(): Promise<DlqJobsResult> {
    const conn = await this.connectOne()
    const {cancelJob} = await import('../../../lib/dlq/jobs.js')
    const job = await cancelJob(conn, this.args.id, await resolveActor())
    if (!this.jsonEnabled()) {
      err(
        `Replay job ${job.id} is ${job.state}: it stops after the messages in flight (${job.done} of ${job.total} sent so far).`,
      )
    }
    return {jobs: [job]}
  }
}
