import {Args, Flags} from '@oclif/core'

import {BaseCommand} from '../../cli/base-command.js'
import type {DlqJobsResult} from '../../lib/dlq/model.js'
import {ResultExit} from '../../lib/errors.js'
import {ExitCode} from '../../lib/exit-codes.js'

export default class DlqJobs extends BaseCommand<typeof DlqJobs> {
  static override summary = 'Show replay jobs: state, progress, who started them and why (from any terminal).'
  static override description = `Every dlq replay run that sends anything is a job, kept in the KV bucket dv_dlq_runtime (key job.<id>; the id is the run id of its ledger journals) with its state, counts (sent, total, failed), actor, reason, start and last update, and a heartbeat. States: running, completed, cancelling (dlq jobs cancel asked it to stop), cancelled, failed (some letters were not sent) and interrupted (running, but its heartbeat is more than 15s old: the process is gone; run the same replay again to finish it, nothing is sent twice). A finished job (completed, cancelled, failed) is kept for 7 days after its last update; listing the jobs or starting a replay job removes older ones. A running job is never removed.

--watch redraws the table every second on a terminal until Ctrl-C (exit 130, as every live view); piped, it prints a line per job whenever one changes (--json: one {jobs} object per change).`
  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --watch',
    '<%= config.bin %> <%= command.id %> m4x1k2abc123 --json',
    '<%= config.bin %> dlq jobs cancel m4x1k2abc123',
  ]

  static override args = {
    id: Args.string({description: 'A job id (from dlq jobs or dlq replay --json: job.id).'}),
  }

  static override flags = {
    watch: Flags.boolean({summary: 'Keep showing the jobs as they change, until Ctrl-C.'}),
  }

  async run(): Promise<DlqJobsResult | void> {
    const conn = await this.connectOne()
    const {readJobs} = await import('../../lib/dlq/jobs.js')
    const render = await import('../../lib/render/jobs.js')
    const read = async () => readJobs(conn, {id: this.args.id})
    let jobs = await read()
    if (!this.flags.watch) {
      if (this.args.id && jobs.length === 0) {
        const {notFound} = await import('../../lib/errors.js')
        throw notFound(
          `No replay job ${this.args.id} on ${conn.site.name}.`,
          'no-such-job',
          'dvctl dlq jobs lists the jobs.',
        )
      }
      if (!this.jsonEnabled()) await render.renderJobs(this.term, jobs)
      return {jobs}
    }
    const {setTimeout: delay} = await import('node:timers/promises')
    const {jsonLine, out} = await import('../../lib/render/terminal.js')
    const live =
      this.term.stdoutTTY && !this.jsonEnabled() ? new render.LiveJobTable(this.term, conn.site.name) : undefined
    const signal = AbortSignal.any([this.signal, this.io.closed()])
    const seen = new Map<string, string>()
    live?.start()
    try {
      while (!signal.aborted) {
        const changed = jobs.filter((j) => seen.get(j.id) !== JSON.stringify(j))
        for (const j of jobs) seen.set(j.id, JSON.stringify(j))
        if (live) live.update(jobs)
        else if (changed.length > 0 && this.jsonEnabled()) jsonLine({jobs: changed})
        else for (const j of changed) out(render.jobLine(j))
        await this.io.writable()
        await delay(1000, undefined, {signal}).catch(() => {})
        if (!signal.aborted) jobs = await read()
      }
    } finally {
      live?.stop()
    }
    if (this.interrupted) throw new ResultExit(ExitCode.interrupted)
  }
}
