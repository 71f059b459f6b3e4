import {spawn} from 'node:child_process'
import {mkdtemp, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {CheckResult} from '../../src/lib/health/check.js'
import {freePort} from '../../src/lib/sandbox/nats-server.js'
import {seedDeadLetters} from '../fault/harness.js'
import {runCommand, startCommand} from '../helpers/run.js'
import {waitFor} from '../helpers/wait.js'
import {command, type DlqSite, publishCommand, startDlqSite, work} from './dlq-fixture.js'

/** Runs a program with `input` on stdin; its exit code and output. */
function run(cmd: string, args: string[], input = ''): Promise<{code: number; out: string}> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {stdio: ['pipe', 'pipe', 'pipe']})
    let out = ''
    child.stdout.on('data', (d) => (out += d))
    child.stderr.on('data', (d) => (out += d))
    child.on('error', reject)
    child.on('close', (code) => resolve({code: code ?? -1, out}))
    child.stdin.end(input)
  })
}

const promtool = (...args: string[]) => run('promtool', args)
const checkMetrics = (text: string) => run('promtool', ['check', 'metrics'], text)

/** The value of one sample in exposition text (labels as written), or undefined. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `))
  return line === undefined ? undefined : Number(line.slice(series.length + 1))
}

describe('check and metrics serve (issue 18)', {timeout: 120_000}, () => {
  let site: DlqSite
  let dir: string
  let env: NodeJS.ProcessEnv
  const check = (...args: string[]) => runCommand(['check', '--site', 'osl1', ...args], {env})

  beforeAll(async () => {
    // Said once, up front, rather than as a spawn error in each test that lints or scrapes.
    for (const tool of ['promtool', 'prometheus']) {
      const found = await run(tool, ['--version']).catch(() => undefined)
      if (found?.code !== 0) {
        throw new Error(
          `${tool} is not on PATH: these tests need Debian's prometheus package (apt-get install prometheus)`,
        )
      }
    }
    site = await startDlqSite('osl1')
    dir = await mkdtemp(join(tmpdir(), 'dvctl-check-'))
    const config = join(dir, 'config.yaml')
    await writeFile(config, `sites:\n  osl1:\n    servers: [${site.server.url}]\n`)
    env = {DVCTL_CONFIG: config}
  })
  afterAll(async () => {
    await site?.dispose()
    if (dir) await rm(dir, {recursive: true, force: true})
  })

  it('nagios: OK on a healthy site, WARNING above the warning and CRITICAL above the critical threshold of pending dead letters', async () => {
    const ok = await check('--format', 'nagios')
    expect(ok.stdout).toMatch(/^DVCTL OK - osl1: 0 pending dead letters.* \| .*'osl1_dlq_pending'=0;0;100;0 /)
    expect(ok.stdout.trim().split('\n')).toHaveLength(1)
    expect(ok.exitCode).toBe(0)

    await seedDeadLetters(site.conn, 3)
    const below = await check('--format', 'nagios', '--dlq-pending-warn', '3', '--dlq-pending-crit', '10')
    expect(below.exitCode).toBe(0)
    const warning = await check('--format', 'nagios', '--dlq-pending-warn', '2', '--dlq-pending-crit', '10')
    expect(warning.stdout).toMatch(/^DVCTL WARNING - osl1: 3 pending dead letter\(s\)/)
    expect(warning.stdout).toContain(`'osl1_dlq_pending'=3;2;10;0`)
    expect(warning.stdout).toMatch(/'osl1_dlq_oldest'=[\d.]+s;3600;86400;0/)
    expect(warning.exitCode).toBe(1)
    const critical = await check('--format', 'nagios', '--dlq-pending-warn', '1', '--dlq-pending-crit', '2')
    expect(critical.stdout).toMatch(/^DVCTL CRITICAL - osl1: 3 pending dead letter\(s\)/)
    expect(critical.stdout).toContain(`'osl1_dlq_pending'=3;1;2;0`)
    expect(critical.exitCode).toBe(2)

    // Thresholds from the config file, overridden by a flag.
    await writeFile(
      env.DVCTL_CONFIG!,
      `sites:\n  osl1:\n    servers: [${site.server.url}]\n    checks: {dlq_pending_warn: 1, dlq_pending_crit: 2}\n`,
    )
    expect((await check('--format', 'nagios')).exitCode).toBe(2)
    expect((await check('--format', 'nagios', '--dlq-pending-crit', '5')).exitCode).toBe(1)
    await writeFile(env.DVCTL_CONFIG!, `sites:\n  osl1:\n    servers: [${site.server.url}]\n`)

    // Text and JSON keep dvctl's own exit codes: 10 for a crossed threshold.
    const json = await check('--json')
    expect(json.exitCode).toBe(10)
    const result = CheckResult.parse(json.json())
    expect(result.status).toBe('warning')
    expect(result.sites[0].snapshot.dead_letters).toMatchObject({
      pending: 3,
      groups: [{stream: 'DV_CMD', consumer: 'maskin', reason: 'terminated', count: 3}],
    })
    // When the consumer last delivered (it delivered and terminated the three commands).
    const maskin = result.sites[0].snapshot.consumers.find((c) => c.name === 'maskin')!
    expect(maskin.last_delivery_age_ms).toBeGreaterThanOrEqual(0)
    expect((await check('--format', 'json')).json()).toMatchObject({status: 'warning'})
    const text = await check()
    expect(text.exitCode).toBe(10)
    expect(text.stdout).toMatch(/warning\s+osl1: 3 pending dead letter/)
  })

  it('nagios: a usage error is UNKNOWN, exit 3', async () => {
    const r = await check('--format', 'nagios', '--dlq-oldest-warn', 'soon')
    expect(r.stdout).toMatch(/^DVCTL UNKNOWN - /)
    expect(r.exitCode).toBe(3)
  })

  it('prometheus format passes promtool check metrics', async () => {
    const r = await check('--format', 'prometheus')
    expect(r.exitCode).toBe(10)
    expect(sample(r.stdout, 'dvctl_site_dead_letters_pending{site="osl1"}')).toBe(3)
    expect(
      sample(r.stdout, 'dvctl_dead_letters_pending{site="osl1",stream="DV_CMD",consumer="maskin",reason="terminated"}'),
    ).toBe(3)
    expect(sample(r.stdout, 'dvctl_check_status{site="osl1"}')).toBe(1)
    const lint = await checkMetrics(r.stdout)
    expect(lint.out).toBe('')
    expect(lint.code).toBe(0)
  })

  it('a stalled task appears in check and in the metrics; Prometheus scrapes the exporter', async () => {
    const js = await site.conn.js()
    const taskId = 'tsk-stalled-1'
    const envelope = command('task.started', {
      source: 'nett',
      subject: taskId,
      data: {task_id: taskId, state: 'started'},
    })
    await js.publish('dv.task.evt.started', JSON.stringify(envelope), {msgID: String(envelope.id)})

    const stalled = await waitFor(
      async () => {
        const r = await check('--json', '--stalled-task', '1s', '--dlq-pending-warn', '10')
        const result = CheckResult.parse(r.json())
        return result.sites[0].snapshot.tasks?.stalled_count ? {r, result} : undefined
      },
      {what: 'a stalled task in check'},
    )
    expect(stalled.result.sites[0].snapshot.tasks?.stalled[0]).toMatchObject({task_id: taskId, state: 'started'})
    expect(stalled.result.sites[0].findings.map((f) => f.code)).toEqual(['task-stalled'])
    expect(stalled.r.exitCode).toBe(10)

    // A second site nobody listens on: it is a metric (site down, scrape errors), never a failed scrape.
    await writeFile(
      env.DVCTL_CONFIG!,
      `sites:\n  osl1:\n    servers: [${site.server.url}]\n  down:\n    servers: [nats://127.0.0.1:${await freePort()}]\n`,
    )
    const port = await freePort()
    const serve = startCommand(
      [
        'metrics',
        'serve',
        '--site',
        'osl1',
        '--site',
        'down',
        '--listen',
        `127.0.0.1:${port}`,
        '--interval',
        '500ms',
        '--stalled-task',
        '1s',
      ],
      env,
    )
    const scraped = await waitFor(
      async () => {
        const res = await fetch(`http://127.0.0.1:${port}/metrics`)
        const text = await res.text()
        return res.status === 200 && sample(text, 'dvctl_tasks_stalled{site="osl1"}') === 1 ? {res, text} : undefined
      },
      {what: 'a stalled task in the metrics'},
    )
    expect(scraped.res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8')
    expect(sample(scraped.text, 'dvctl_site_up{site="osl1"}')).toBe(1)
    expect(sample(scraped.text, 'dvctl_tasks{site="osl1",state="started"}')).toBe(1)
    expect(sample(scraped.text, 'dvctl_site_dead_letters_pending{site="osl1"}')).toBe(3)
    expect((await checkMetrics(scraped.text)).code).toBe(0)
    expect(sample(scraped.text, 'dvctl_site_up{site="down"}')).toBe(0)
    expect(sample(scraped.text, 'dvctl_scrape_errors_total{site="down"}')).toBeGreaterThanOrEqual(1)
    expect(sample(scraped.text, 'dvctl_scrape_errors_total{site="osl1"}')).toBe(0)
    expect(await (await fetch(`http://127.0.0.1:${port}/healthz`)).text()).toBe('ok\n')

    // A real Prometheus scrapes it and answers the pending count over its HTTP API.
    const promPort = await freePort()
    const promConfig = join(dir, 'prometheus.yml')
    await writeFile(
      promConfig,
      `global: {scrape_interval: 1s, evaluation_interval: 1s}\nscrape_configs:\n  - job_name: dvctl\n    static_configs: [{targets: ['127.0.0.1:${port}']}]\n`,
    )
    const prometheus = spawn(
      'prometheus',
      [
        `--config.file=${promConfig}`,
        `--storage.tsdb.path=${join(dir, 'tsdb')}`,
        `--web.listen-address=127.0.0.1:${promPort}`,
        '--log.level=warn',
      ],
      {stdio: 'ignore'},
    )
    try {
      const value = await waitFor(
        async () => {
          const q = encodeURIComponent('dvctl_site_dead_letters_pending{site="osl1"}')
          const res = await fetch(`http://127.0.0.1:${promPort}/api/v1/query?query=${q}`)
          const body = (await res.json()) as {data?: {result?: Array<{value: [number, string]}>}}
          return body.data?.result?.[0]?.value[1]
        },
        {what: 'Prometheus to have scraped dvctl', timeoutMs: 60_000},
      )
      expect(value).toBe('3')
    } finally {
      prometheus.kill('SIGKILL')
    }

    // Incremental reads: a discarded dead letter leaves the count and a new one joins it, while it runs.
    const scrape = async (series: string) =>
      sample(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text(), series)
    const ref = stalled.result.sites[0].snapshot.dead_letters!.recent[0].ref
    const discard = await runCommand(['dlq', 'discard', ref, '--reason', 'test data', '--yes', '--site', 'osl1'], {env})
    expect(discard.exitCode).toBe(0)
    await waitFor(async () => (await scrape('dvctl_site_dead_letters_pending{site="osl1"}')) === 2, {
      what: 'the discarded dead letter to leave the count',
    })
    // A replay is recorded in its run's journal (one ledger write per chunk), not on the dead letter's key.
    const replayed = stalled.result.sites[0].snapshot.dead_letters!.recent[1].ref
    const replay = await runCommand(['dlq', 'replay', replayed, '--yes', '--site', 'osl1'], {env})
    expect(replay.exitCode, replay.stderr).toBe(0)
    await waitFor(async () => (await scrape('dvctl_site_dead_letters_pending{site="osl1"}')) === 1, {
      what: 'the replayed dead letter to leave the count',
    })
    await publishCommand(site.conn, 'dv.maskin.cmd.provision', command('maskin.server.provision.requested'))
    // The replayed copy comes first: it is taken (acknowledged; terminating it would make the replay fail again
    // and its dead letter count as pending, outcome.ts isHandled); the new command is terminated.
    const consumer = await js.consumers.get('DV_CMD', 'maskin')
    let termed = 0
    await work(
      consumer,
      (m) => {
        if (m.headers?.get('Dv-Replay-Of')) m.ack()
        else {
          m.term()
          termed++
        }
      },
      () => termed > 0,
      {batch: 2, expires: 5000},
    )
    await waitFor(async () => (await scrape('dvctl_site_dead_letters_pending{site="osl1"}')) === 2, {
      what: 'the new dead letter in the count',
    })
    expect(await scrape('dvctl_dead_letter_advisories_read_total{site="osl1"}')).toBe(4)
    expect(await serve.stop()).toBe(0)
  })

  it('the alerting rules example passes promtool check rules', async () => {
    const r = await promtool('check', 'rules', new URL('../../docs/alerts/dvctl-rules.yml', import.meta.url).pathname)
    expect(r.out).toMatch(/SUCCESS/)
    expect(r.code).toBe(0)
  })
})
