import {Flags} from '@oclif/core'

import {BaseCommand} from '../../cli/base-command.js'
import {constantHelp, durationFlag, readFlags} from '../../cli/flags.js'
import {usageError} from '../../lib/errors.js'

/** `dvctl metrics serve --json`: printed once it stops. */
interface ServeResult {
  listen: string
  sites: string[]
  rounds: number
}

export default class MetricsServe extends BaseCommand<typeof MetricsServe> {
  static override summary = 'Serve Prometheus metrics of sites: dead letters, consumers, tasks, sources.'
  static override description = `Collects the health of each selected site (the default site, --site repeated, or --all-sites) every --interval in the background and serves the last collection over HTTP: /metrics in the Prometheus text exposition format (0.0.4), /healthz for liveness. A scrape never reads NATS itself and never fails because a site does: a site that could not be read has dvctl_site_up 0 and one more dvctl_scrape_errors_total, and is dialled again on the next round.

Per site: pending dead letters by stream, consumer and reason and the age of the oldest one, each DV_CMD consumer's pending and ack-pending counts and its last delivery and ack ages, tasks by state and stalled tasks (running, no event for --stalled-task), and the lag of every cross-site source. Reads are incremental: each round reads only what DV_DLQ, the dead-letter ledger and DV_TASK stored since the last one, and memory follows what those streams hold, not how long the exporter runs. Listening starts after the first collection. SIGINT or SIGTERM stops it (exit 0).`
  static override examples = [
    '<%= config.bin %> <%= command.id %> --listen 127.0.0.1:9464',
    '<%= config.bin %> <%= command.id %> --listen 127.0.0.1:9464 --all-sites --interval 30s',
  ]
  static override flags = {
    ...readFlags,
    listen: Flags.string({
      summary: 'Address to listen on, HOST:PORT (e.g. 127.0.0.1:9464; port 0 picks a free one, printed on stderr).',
      required: true,
    }),
    interval: durationFlag({
      summary: 'How often each site is read.',
      default: 15_000,
      defaultHelp: constantHelp('15s'),
    }),
    'stalled-task': durationFlag({
      summary: 'A running task with no event for longer than this counts as stalled.',
      default: 300_000,
      defaultHelp: constantHelp('5m'),
    }),
  }

  async run(): Promise<ServeResult> {
    const {host, port} = parseListen(this.flags.listen)
    if (this.flags.interval < 100) throw usageError('--interval must be at least 100ms.', 'bad-interval')
    const targets = await this.siteTargets({allSites: this.flags['all-sites']})
    const [{HealthMonitor}, {healthFamilies}, {exposition}, {serveMetrics}, {err}] = await Promise.all([
      import('../../lib/health/monitor.js'),
      import('../../lib/health/metrics.js'),
      import('../../lib/render/prometheus.js'),
      import('../../lib/health/serve.js'),
      import('../../lib/render/terminal.js'),
    ])
    const signal = this.signal
    const monitor = new HealthMonitor(targets, {
      timeoutMs: this.flags.timeout,
      stalledTaskMs: this.flags['stalled-task'],
    })
    let text = ''
    let rounds = 0
    let started = 0
    const round = async () => {
      started = Date.now()
      const sites = await monitor.round()
      text = exposition(healthFamilies(sites))
      rounds++
    }
    try {
      await round()
      if (signal.aborted) return {listen: this.flags.listen, sites: targets.map((t) => t.name), rounds}
      const server = await serveMetrics({host, port, metrics: () => text})
      err(`Serving metrics of ${targets.map((t) => t.name).join(', ')} on http://${server.address}/metrics`)
      try {
        while (!signal.aborted) {
          // Rounds start every --interval (a slow round shortens the wait; rounds never overlap).
          await sleep(Math.max(0, this.flags.interval - (Date.now() - started)), signal)
          if (signal.aborted) break
          await round()
        }
      } finally {
        await server.close()
      }
      return {listen: server.address, sites: targets.map((t) => t.name), rounds}
    } finally {
      await monitor.close()
    }
  }
}

function parseListen(listen: string): {host: string; port: number} {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(listen)
  const port = m ? Number(m[3]) : NaN
  if (!m || port > 65_535) {
    throw usageError(`--listen ${listen}: not HOST:PORT`, 'bad-listen', 'Give an address like 127.0.0.1:9464.')
  }
  return {host: m[1] ?? (m[2] || '127.0.0.1'), port}
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer)
      signal.removeEventListener('abort', done)
      resolve()
    }
    const timer = setTimeout(done, ms)
    signal.addEventListener('abort', done, {once: true})
  })
}
