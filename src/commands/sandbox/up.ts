import {Flags} from '@oclif/core'

import {BaseCommand} from '../../cli/base-command.js'
import {renderSandbox} from '../../lib/render/sandbox.js'
import {warn} from '../../lib/render/terminal.js'
import type {SandboxResult} from '../../lib/sandbox/sandbox.js'

export default class SandboxUp extends BaseCommand<typeof SandboxUp> {
  static override summary = 'Start a local multi-site sandbox: one nats-server per site, linked by leaf nodes.'
  static override description = `Each site gets its own nats-server on free loopback ports with its own JetStream domain (named after the site); the first site is the leaf-node hub and the others connect to it with the site-isolation deny rules (commands, events, advisories and acks stay on their site; dv.rpc.* and the domain-prefixed JetStream API cross). The built-in dataverket layout is applied on each site. The servers keep running after this command; pids and logs are under the sandbox directory ($XDG_STATE_HOME/dvctl/sandbox or ~/.local/state/dvctl/sandbox by default).

With --cluster 3 each site is a three-node JetStream cluster (routes on free loopback ports, one store per node), still its own domain; every node of a leaf site dials the hub's nodes, the layout is applied with three replicas, and the site's config lists all three URLs so that dvctl reconnects to a surviving node.

Each site also gets a background dvctl dlq capture process (unless --no-capture or --no-layout), so that dead letters keep their originals; its pid and log (<dir>/<site>/capture.log) are shown by sandbox status, and sandbox down stops it.

The sites are written to <dir>/config.yaml (use it with DVCTL_CONFIG=...), or also into your own config with --register. Running up again restarts any server of the sandbox that is not running.`
  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --sites osl1,trd1,bgo1 --dir /tmp/dv-sandbox',
    '<%= config.bin %> <%= command.id %> --register --json',
    '<%= config.bin %> <%= command.id %> --cluster 3 --sites osl1',
  ]
  static override flags = {
    sites: Flags.string({summary: 'Comma-separated site names; the first is the hub (default: osl1,trd1).'}),
    dir: Flags.string({summary: 'Sandbox directory (state, config, logs, JetStream stores).'}),
    'nats-server': Flags.string({summary: 'Path to the nats-server binary (default: nats-server on PATH).'}),
    register: Flags.boolean({summary: 'Also add the sites to your dvctl config (removed again by sandbox down).'}),
    'no-layout': Flags.boolean({summary: 'Do not apply the dataverket layout (and run no dlq capture).'}),
    'no-capture': Flags.boolean({summary: 'Do not run dvctl dlq capture for each site in the background.'}),
    cluster: Flags.integer({
      summary: 'Nodes per site: 3 runs each site as a JetStream cluster with R3 streams.',
      min: 1,
    }),
  }

  async run(): Promise<SandboxResult> {
    const {sandboxUp} = await import('../../lib/sandbox/sandbox.js')
    const result = await sandboxUp({
      sites: this.flags.sites
        ?.split(',')
        .map((s) => s.trim())
        .filter(Boolean),
      dir: this.flags.dir,
      binary: this.flags['nats-server'],
      register: this.flags.register,
      layout: !this.flags['no-layout'],
      capture: !this.flags['no-capture'],
      timeoutMs: this.flags.timeout,
      cluster: this.flags.cluster,
    })
    for (const w of result.warnings ?? []) warn(w)
    if (!this.jsonEnabled()) await renderSandbox(this.term, result)
    return result
  }
}
