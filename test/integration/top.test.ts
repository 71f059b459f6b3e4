// `dvctl top` (issue 18, item 3) in a real pseudo-terminal against a two-site sandbox: both sites on the
// screen, a dead letter made while it runs shown within a refresh (waited on, never timed), the dead letter
// opened in the pager (less) and back, q exiting 0 with the terminal given back (alternate screen left,
// cursor shown). Without a terminal it refuses (exit 2) and points to `check --format json`.
import {existsSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {connectSite, type SiteConnection} from '../../src/lib/nats/connection.js'
import {createWorkerConsumer} from '../../src/lib/sandbox/workers/consumer.js'
import {startWorker, type Worker} from '../../src/lib/sandbox/workers/worker.js'
import {runCli} from '../helpers/cli.js'
import {sandboxFixture, type SandboxFixture} from '../helpers/nats.js'
import {startPty} from '../helpers/pty.js'
import {command, publishCommand} from './dlq-fixture.js'

const DOWN = '\u001B[B'

describe('dvctl top', {timeout: 120_000}, () => {
  let sandbox: SandboxFixture
  let osl1: SiteConnection
  let worker: Worker

  beforeAll(async () => {
    sandbox = await sandboxFixture({layout: true})
    osl1 = await connectSite({name: 'osl1', servers: [sandbox.url('osl1')]}, {timeoutMs: 5000})
    // A worker that fails every command: the server gives up after two deliveries (a dead letter).
    const consumer = await createWorkerConsumer(osl1, {service: 'maskin', maxDeliver: 2, ackWaitMs: 500})
    worker = await startWorker(osl1, {service: 'maskin', consumer, progressSteps: 0, behaviour: 'fail'})
  })
  afterAll(async () => {
    await worker?.stop()
    await osl1?.close()
    await sandbox?.dispose()
  })

  /**
   * `top --site osl1` on a 100x30 terminal (with `env` added), once a dead letter made after its first refresh
   * is shown: newest first, so it is the first row, selected.
   */
  async function topWithNewDeadLetter(env: Record<string, string>) {
    const run = startPty(['top', '--site', 'osl1', '--interval', '500ms'], 100, 30, {
      DVCTL_CONFIG: sandbox.config,
      ...env,
    })
    const text = () => run.screen.lines().join('\n')
    await run.waitFor(() => /Dead letters: \d+ pending/.test(text()), 'the first refresh')
    const seq = await publishCommand(
      osl1,
      'dv.maskin.cmd.provision',
      command('maskin.server.provision.requested', {datacenter_id: 'osl1'}),
    )
    await run.waitFor(() => run.screen.lines().some((l) => l.startsWith(`> DV_CMD:${seq} new`)), 'the new dead letter')
    return {run, seq, text}
  }

  it('shows both sites and a new dead letter, opens it in the pager, and q gives the terminal back', async () => {
    // No $PAGER, no $LESS: the pager is less -R as installed.
    // `stty -a` once top has ended shows the terminal modes it left behind.
    const run = startPty(
      ['top', '--all-sites', '--interval', '500ms'],
      110,
      32,
      {DVCTL_CONFIG: sandbox.config, PAGER: '', LESS: ''},
      {after: 'stty -a'},
    )
    const {screen} = run
    const text = () => screen.lines().join('\n')
    // The service consumers of the site with their counts, below the dead letters: a frame may come in pieces.
    const consumerRow = /^\s+DV_CMD\s+maskin\s+\d+\s+\d+\s+\d+\b/m
    await run.waitFor(() => /Dead letters: 0 pending/.test(text()) && consumerRow.test(text()), 'the first refresh')
    expect(screen.onAlternateScreen).toBe(true)
    expect(screen.cursorVisible).toBe(false)
    const tabs = screen.lines()[1]
    expect(tabs).toMatch(/\[1 osl1 \(0 dlq\)\]/)
    expect(tabs).toMatch(/ 2 trd1 \(0 dlq\)$/)
    expect(text()).toMatch(consumerRow)

    const seq = await publishCommand(
      osl1,
      'dv.maskin.cmd.provision',
      command('maskin.server.provision.requested', {datacenter_id: 'osl1'}),
    )
    // The worker terminates it (a dead letter at once): ref marked new, age, consumer, reason.
    const row = new RegExp(`^[> ] DV_CMD:${seq} new\\s+\\d+s\\s+maskin-sandbox\\s+terminated\\b`)
    await run.waitFor(() => screen.lines().some((l) => row.test(l)), 'the new dead letter')
    expect(text()).toMatch(/Dead letters: 1 pending, oldest \d+s, 1 new since top started/)
    expect(screen.lines()[1]).toMatch(/\[1 osl1 \(1 dlq\)\]/)

    // Enter opens the selected dead letter as dlq show prints it, in less; q in less comes back to top.
    // (Without less, the next test's scroll view is what opens it.)
    if (existsSync('/usr/bin/less') || existsSync('/bin/less')) {
      run.type('\r')
      await run.waitFor(() => screen.lines().some((l) => l.startsWith(`Dead letter DV_CMD:${seq}`)), 'dlq show in less')
      run.type('q')
      await run.waitFor(() => /Dead letters: 1 pending/.test(text()), 'top again')
    }

    // The second site, by its number and by tab.
    run.type('2')
    // Its tab and the dead-letter line below it: a frame may come in more than one piece.
    await run.waitFor(
      () => /\[2 trd1 \(0 dlq\)\]/.test(screen.lines()[1]) && /Dead letters: 0 pending/.test(text()),
      'trd1 selected',
    )
    expect(text()).toMatch(/Dead letters: 0 pending/)
    run.type('\t')
    await run.waitFor(() => /\[1 osl1 \(1 dlq\)\]/.test(screen.lines()[1]), 'osl1 again')
    run.type(DOWN)

    run.type('q')
    expect(await run.exit()).toBe(0)
    expect(screen.onAlternateScreen).toBe(false)
    expect(screen.cursorVisible).toBe(true)
    // Nothing of the view was left in the user's scrollback; the terminal is out of raw mode again.
    expect(screen.history().some((l) => /Dead letters:/.test(l))).toBe(false)
    const modes = run.output().slice(run.output().lastIndexOf('speed'))
    expect(modes).toMatch(/(^|\s)icanon\b/)
    expect(modes).toMatch(/(^|\s)echo\b/)
  })

  it('gives the terminal to the pager: a key typed while it runs reaches the pager, not top', async () => {
    // A pager that reads a line from the terminal a moment after it starts. Top must not be reading the
    // terminal meanwhile, or the line typed in that moment goes to top (which ignores it) and never to the
    // pager; and the terminal must be in its normal mode (a line ends with enter).
    const dir = mkdtempSync(join(tmpdir(), 'dvctl-pager-'))
    const pager = join(dir, 'pager.sh')
    writeFileSync(
      pager,
      [
        '#!/bin/sh',
        'cat >/dev/null',
        "printf 'pager waiting\\n'",
        'sleep 1',
        'line=$(timeout --foreground 10 sh -c \'IFS= read -r l </dev/tty && printf %s "$l"\')',
        'printf \'pager got [%s]\\n\' "$line"',
        '',
      ].join('\n'),
      {mode: 0o755},
    )
    try {
      const {run, text} = await topWithNewDeadLetter({PAGER: pager})
      run.type('\r')
      await run.waitFor(() => run.output().includes('pager waiting'), 'the pager')
      run.type('x\r')
      await run.waitFor(() => /pager got \[/.test(run.output()), 'the pager reading the terminal')
      expect(run.output()).toMatch(/pager got \[x\]/)
      await run.waitFor(() => /Dead letters: \d+ pending/.test(text()), 'top again')
      run.type('q')
      expect(await run.exit()).toBe(0)
    } finally {
      rmSync(dir, {recursive: true, force: true})
    }
  })

  it('without a pager shows the dead letter in a view of its own; Ctrl-C quits with exit 0', async () => {
    // No $PAGER and no less on PATH.
    const {run, seq, text} = await topWithNewDeadLetter({PAGER: '', PATH: '/nonexistent'})
    const {screen} = run
    run.type('\r')
    // The whole view, down to its footer: the terminal may hand over a frame in more than one piece.
    await run.waitFor(
      () => screen.lines()[0] === `dvctl dlq show DV_CMD:${seq}` && /^lines 1-\d+ of \d+/m.test(text()),
      'the viewer',
    )
    expect(screen.lines()[1]).toMatch(new RegExp(`^Dead letter DV_CMD:${seq}\\s+pending`))
    expect(text()).toMatch(/^lines 1-\d+ of \d+/m)
    run.type('q')
    await run.waitFor(() => /Dead letters: \d+ pending/.test(text()), 'top again')
    run.type('\u0003')
    expect(await run.exit()).toBe(0)
    expect(screen.onAlternateScreen).toBe(false)
    expect(screen.cursorVisible).toBe(true)
  })

  it('refuses without a terminal, pointing to check --format json', async () => {
    const r = await runCli(['top', '--all-sites'], {env: {DVCTL_CONFIG: sandbox.config}})
    expect(r.exitCode).toBe(2)
    expect(r.stdout).toBe('')
    expect(r.stderr).toMatch(/needs a terminal/)
    expect(r.stderr).toMatch(/dvctl check --format json/)
    const json = await runCli(['top', '--json', '--all-sites'], {env: {DVCTL_CONFIG: sandbox.config}})
    expect(json.exitCode).toBe(2)
    expect(json.json().error.code).toBe('not-a-terminal')
  })
})
