import {Flags} from '@oclif/core'

import {BaseCommand} from '../../cli/base-command.js'
import {readFlags, taskFilterFlags, taskFilterFromFlags} from '../../cli/flags.js'
import {ExitCode} from '../../lib/exit-codes.js'
import {TASK_VERBS} from '../../lib/contract/services.js'
import type {TaskListResult} from '../../lib/tasks/list.js'

export default class TaskList extends BaseCommand<typeof TaskList> {
  static override summary = 'List the latest state of each task seen in DV_TASK.'
  static override description =
    'Reads the task lifecycle events of each selected site within --since (default 24h) and folds them into one row per task: service, state, progress, last update, site. --state keeps only tasks in the given states.'
  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --state failed --state cancelled --since 6h',
    '<%= config.bin %> <%= command.id %> --service maskin --all-sites --json',
  ]

  static override flags = {
    ...readFlags,
    ...taskFilterFlags,
    state: Flags.string({
      summary: 'Only tasks whose latest state is this (repeatable).',
      multiple: true,
      options: [...TASK_VERBS],
    }),
  }

  async run(): Promise<TaskListResult> {
    const {flags} = this
    const fan = await this.connectMany({allSites: flags['all-sites']})
    const {listTasks} = await import('../../lib/tasks/list.js')
    const {tasks, siteErrors, lost} = await listTasks(fan.connections, {
      filter: taskFilterFromFlags(flags),
      sinceMs: flags.since,
      states: flags.state,
    })
    const sites = fan.sites.map((s) => (siteErrors.has(s.site) ? {...s, error: siteErrors.get(s.site)} : s))
    const result: TaskListResult = {sites, tasks}
    if (!this.jsonEnabled()) {
      const {warn} = await import('../../lib/render/terminal.js')
      for (const message of siteErrors.values()) warn(`${message} (skipped; the other sites are still read)`)
      const {renderTaskList} = await import('../../lib/render/tasks.js')
      await renderTaskList(this.term, tasks)
    }
    return this.exitWith(result, lost.length ? ExitCode.partial : ExitCode.ok)
  }
}
