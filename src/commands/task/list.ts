import {Flags} from '@oclif/core'

import {BaseCommand} from '../../cli/base-command.js'
import {listingFlags, listOrderFrom, readFlags, taskFilterFlags, taskFilterFromFlags} from '../../cli/flags.js'
import {ExitCode} from '../../lib/exit-codes.js'
import {TASK_VERBS} from '../../lib/contract/services.js'
import {orderList, sortFields} from '../../lib/render/listing.js'
import {TASK_LISTING} from '../../lib/render/tasks.js'
import type {TaskListResult} from '../../lib/tasks/list.js'

export default class TaskList extends BaseCommand<typeof TaskList> {
  static override summary = 'List the latest state of each task seen in DV_TASK.'
  static override description =
    'Reads the task lifecycle events of each selected site within --since (default 24h) and folds them into one row per task: service, state, progress, last update, site. --state keeps only tasks in the given states. --sort and --limit order and cut the result (--json too). On a terminal the table fits the window (--wide: every column whole); piped, every column (task, service, state, progress, message, age, updated, site), tab-separated, without a header row.'
  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --state failed --state cancelled --since 6h',
    '<%= config.bin %> <%= command.id %> --service maskin --all-sites --json',
    '<%= config.bin %> <%= command.id %> --sort -updated --limit 10',
  ]

  static override flags = {
    ...readFlags,
    ...taskFilterFlags,
    state: Flags.string({
      summary: 'Only tasks whose latest state is this (repeatable).',
      multiple: true,
      options: [...TASK_VERBS],
    }),
    ...listingFlags(sortFields(TASK_LISTING)),
  }

  async run(): Promise<TaskListResult> {
    const {flags} = this
    const order = listOrderFrom(flags, sortFields(TASK_LISTING))
    const fan = await this.connectMany({allSites: flags['all-sites']})
    const {listTasks} = await import('../../lib/tasks/list.js')
    const {resolveFilterIds} = await import('../../lib/ids.js')
    const {tasks, siteErrors, lost} = await listTasks(fan.connections, {
      filter: await resolveFilterIds(fan.connections, taskFilterFromFlags(flags)),
      sinceMs: flags.since,
      states: flags.state,
    })
    const sites = fan.sites.map((s) => (siteErrors.has(s.site) ? {...s, error: siteErrors.get(s.site)} : s))
    const result: TaskListResult = {sites, tasks: orderList(tasks, TASK_LISTING, order)}
    if (!this.jsonEnabled()) {
      const {warn} = await import('../../lib/render/terminal.js')
      for (const message of siteErrors.values()) warn(`${message} (skipped; the other sites are still read)`)
      const {renderTaskList} = await import('../../lib/render/tasks.js')
      await renderTaskList(this.term, result.tasks)
    }
    return this.exitWith(result, lost.length ? ExitCode.partial : ExitCode.ok)
  }
}
