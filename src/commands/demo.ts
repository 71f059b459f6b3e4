import {Flags} from '@oclif/core'

import {BaseCommand} from '../cli/base-command.js'
import {waitTimeoutFlag} from '../cli/flags.js'
import type {DemoResult} from '../lib/demo/run.js'

export default class Demo extends BaseCommand<typeof Demo> {
  static override summary = 'Run a realistic workflow set on a site, so that every other command has something to show.'
  static override description = `Runs in a local sandbox (dvctl sandbox up --register; started when needed) unless sites are named (--server, --site, DV_SITE, NATS_URL). On a named site that is not the sandbox's it asks first (--yes answers; without a terminal it refuses, exit 6): its workers take commands from the layout's service consumers, which real workers there may share. It applies the dataverket layout where it is missing (and says so), runs simulated maskin, nett and plattform workers on the layout's consumers, and sends:

  - a server provisioning (dv.maskin.cmd.provision) that succeeds with progress events,
  - a network change (dv.nett.cmd.apply) applied in two datacenters under one correlation, when two sites are used,
  - a cluster deployment (dv.plattform.cmd.deploy) that the plattform worker refuses for good: it is terminated and captured in DV_DLQ as a dead letter, with the worker's error in a dv.task.evt.failed event.

It then prints the ids and the commands to try next. Running it again adds one more of each; nothing is replaced.`
  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --server nats://127.0.0.1:4222 --yes --json',
    '<%= config.bin %> <%= command.id %> --sandbox',
    '<%= config.bin %> <%= command.id %> --site osl1 --site trd1',
  ]
  static override flags = {
    sandbox: Flags.boolean({
      summary: 'Use the local sandbox (started when needed, registered in your config); the default without a site.',
    }),
    yes: Flags.boolean({
      summary: "Run on the named sites without asking, although real workers may share the demo's service consumers.",
    }),
    'wait-timeout': waitTimeoutFlag('How long to wait for the workers to handle the commands sent (default 30s).'),
    'step-delay': Flags.integer({
      summary: "Milliseconds between a worker's task events, so that task watch can follow them.",
      default: 150,
      min: 0,
    }),
  }

  async run(): Promise<DemoResult> {
    const {flags} = this
    const {demoStep, renderDemo} = await import('../lib/render/demo.js')
    const onStep = this.jsonEnabled() ? undefined : demoStep
    const {chooseDemoSites} = await import('../lib/demo/sites.js')
    const explicit = Boolean(flags.server || flags.site?.length || this.env.DV_SITE || this.env.NATS_URL)
    const chosen = await chooseDemoSites({
      targets: flags.sandbox || !explicit ? [] : await this.siteTargets(),
      explicit,
      server: flags.server,
      sandbox: flags.sandbox,
      timeoutMs: flags.timeout,
      onStep,
      confirmShared: async (sites) => {
        const {confirmOrRefuse} = await import('../lib/render/prompt.js')
        for (const conn of sites) {
          await confirmOrRefuse(this.term, 'Run the demo', {
            yes: flags.yes,
            target: {site: conn.site.name, url: conn.url},
            warning:
              "Its simulated workers take commands from the layout's service consumers (maskin, nett, plattform), which real workers there may share, and real workers may take its commands.",
            flagHint: '--yes (or run it in a sandbox: dvctl demo)',
            dryRun: false,
          })
        }
      },
    })
    for (const s of chosen.sites) this.adopt(s.conn)
    const {senderDefaults} = await import('../lib/publish/defaults.js')
    const {runDemo} = await import('../lib/demo/run.js')
    const defaults = await senderDefaults({})
    const result = await runDemo({
      sites: chosen.sites,
      actor: defaults.actor,
      registry: defaults.registry,
      timeoutMs: flags['wait-timeout'] ?? 30_000,
      stepDelayMs: flags['step-delay'],
      sandbox: chosen.sandbox,
      onStep,
    })
    if (!this.jsonEnabled()) renderDemo(result)
    return result
  }
}
