// Live views in a real pseudo-terminal (issue 15, item 3), against a real nats-server: `task watch` over
// tasks whose failure messages are 300 characters long, at 80x24, left running for 10 seconds and resized
// on the way, must leave at most one table header in the scrollback (before: one per frame). What the
// command wrote to the terminal is replayed onto a small terminal emulator (test/helpers/screen.ts).
import {randomUUID} from 'node:crypto'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {newEnvelope} from '../../src/lib/contract/envelope.js'
import {startPty} from '../helpers/pty.js'
import {type DlqSite, startDlqSite} from './dlq-fixture.js'

const LONG = 'rack osl1-r07 refused the server: no power budget left on the rack '.padEnd(300, '.')
const HEADER = /^task\s+service\s+state\s+progress\s+age\s+site$/

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

describe('live views in a pseudo-terminal', {timeout: 120_000}, () => {
  let site: DlqSite

  beforeAll(async () => {
    site = await startDlqSite('osl1')
  })
  afterAll(async () => site?.dispose())

  const taskEvent = async (verb: string, taskId: string, data: Record<string, unknown> = {}) => {
    const envelope = newEnvelope({
      type: `task.${verb}`,
      source: 'maskin',
      subject: taskId,
      actor: 'test',
      correlation_id: randomUUID(),
      data: {task_id: taskId, state: verb, ...data},
    })
    await (await site.conn.js()).publish(`dv.task.evt.${verb}`, JSON.stringify(envelope), {msgID: envelope.id})
  }

  it('task watch at 80x24, 300-character failures, 10 s and two resizes: one header in the scrollback', async () => {
    // More tasks than the window has rows, every one failed with a long message.
    for (let i = 0; i < 30; i++)
      await taskEvent('failed', `srv-${String(i).padStart(2, '0')}`, {
        error: {code: 'no-capacity', message: LONG, retryable: false},
      })
    const run = startPty(['task', 'watch', '--server', site.server.url], 80, 24)
    const {screen} = run
    await run.waitFor(() => screen.lines().some((l) => HEADER.test(l)), 'the table')
    expect(screen.lines()[0]).toMatch(/^Watching tasks on 127\.0\.0\.1:\d+ for \d+s; 30 task\(s\): 30 failed/)
    const started = Date.now()
    // Live events while it runs: new tasks with long progress messages, each one a redraw.
    let n = 0
    while (Date.now() - started < 10_000) {
      await taskEvent('progress', `live-${n++}`, {progress: {percent: n % 100, message: LONG}})
      if (n === 10) run.resize(100, 30)
      if (n === 25) run.resize(80, 24)
      await sleep(250)
      // Never more than one header anywhere, and none in the scrollback, while it is live.
      expect(screen.lines().filter((l) => HEADER.test(l)).length).toBeLessThanOrEqual(1)
      expect(screen.history().filter((l) => HEADER.test(l))).toHaveLength(0)
    }
    await run.waitFor(() => screen.lines().some((l) => l.startsWith(`live-${n - 1} `)), 'the last live task')
    const visible = screen.lines()
    // Every task one row, its message cut with an ellipsis; the window is full and nothing more.
    expect(visible.filter((l) => l.length > 80)).toEqual([])
    expect(visible.filter((l) => l.startsWith('srv-') || l.startsWith('live-')).every((l) => l.includes('…'))).toBe(
      true,
    )
    expect(visible.some((l) => /older task\(s\) not shown/.test(l))).toBe(true)

    expect(await run.interrupt()).toBe(130)
    expect(screen.onAlternateScreen).toBe(false)
    const history = screen.history()
    // Once it stopped: the table is printed once, with every task, on the user's screen.
    expect(history.filter((l) => HEADER.test(l))).toHaveLength(1)
    expect(history.filter((l) => /^srv-\d\d /.test(l))).toHaveLength(30)
    expect(history.filter((l) => /^live-\d+ /.test(l))).toHaveLength(n)
    expect(history.some((l) => /^\d+ task\(s\): 30 failed, \d+ progress/.test(l))).toBe(true)
    expect(screen.unknown).toEqual([])
  })

  it('workflow show --follow: a status line while nothing has arrived, then the workflow, redrawn in place', async () => {
    const correlation = randomUUID()
    const run = startPty(['workflow', 'show', correlation, '--follow', '--server', site.server.url], 80, 24)
    const {screen} = run
    await run.waitFor(() => /no message yet/.test(screen.lines()[0] ?? ''), 'the status line')
    expect(screen.lines()[0]).toMatch(
      new RegExp(`^Watching workflow ${correlation.slice(0, 8)} on 127\\.0\\.0\\.1:\\d+ for \\d+s; no message yet`),
    )
    const envelope = newEnvelope({
      type: 'maskin.server.provision.requested',
      source: 'sentral',
      actor: 'test',
      correlation_id: correlation,
      data: {server_id: 'srv-1', profile: 'small'},
    })
    await (await site.conn.js()).publish('dv.maskin.cmd.provision', JSON.stringify(envelope), {msgID: envelope.id})
    await run.waitFor(() => screen.lines().some((l) => l.startsWith(`Workflow ${correlation}`)), 'the workflow')
    expect(screen.lines()[0]).toMatch(/; 1 message, running$/)
    expect(await run.interrupt()).toBe(130)
    expect(screen.onAlternateScreen).toBe(false)
    expect(screen.history().filter((l) => l.startsWith(`Workflow ${correlation}`))).toHaveLength(1)
    expect(screen.unknown).toEqual([])
  })
})
