// Confirmation prompts in a real pseudo-terminal (issue 15): they name the site and URL they act on, "no" is
// a plain "Cancelled" with exit 3, Ctrl-C is exit 130, and `| tee log` on stdout does not stop the asking.
import {fileURLToPath} from 'node:url'

import pty from '@lydell/node-pty'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {STREAMS} from '../../src/lib/layout/names.js'
import {
  command,
  type DlqSite,
  eventually,
  publishCommand,
  startDlqSite,
  streamMessages,
  terminate,
} from './dlq-fixture.js'

const RUN = fileURLToPath(new URL('../../bin/run.js', import.meta.url))

/**
 * Runs `shell` (a command line using $DVCTL) in a pty; `answer` is typed once the prompt shows. With
 * `enterBefore`, every earlier prompt (publish --interactive's fields) is answered with Enter once the
 * terminal has been quiet for a moment, taking its default.
 */
function ptyRun(
  shell: string,
  answer: string,
  options: {enterBefore?: boolean} = {},
): Promise<{exitCode: number; output: string}> {
  const env: Record<string, string> = {}
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env[k] = v
  Object.assign(env, {
    TERM: 'xterm-256color',
    NO_COLOR: '1',
    DVCTL_CONFIG: '/nonexistent/dvctl.yaml',
    DVCTL: `${process.execPath} ${RUN}`,
  })
  delete env.NATS_URL
  delete env.DV_SITE
  return new Promise((resolve, reject) => {
    const term = pty.spawn('/bin/sh', ['-c', shell], {cols: 120, rows: 30, env})
    let output = ''
    let answered = false
    let enters = 0
    // What was typed when: shown after the output, so a failure says where each key went.
    const keys: string[] = []
    const timer = setTimeout(() => {
      term.kill('SIGKILL')
      reject(new Error(`no exit; output:\n${output}`))
    }, 30_000)
    let quiet: NodeJS.Timeout | undefined
    term.onData((d) => {
      output += d
      clearTimeout(quiet)
      if (!answered && output.includes('(y/N)')) {
        answered = true
        keys.push(`${JSON.stringify(answer)} at output ${output.length}`)
        term.write(answer)
      } else if (!answered && options.enterBefore) {
        // Only while a field prompt ("? label") waits, and once per prompt (one Enter per prompt finished
        // with a "✔"): an Enter typed while the command connects, or a second one while a slow machine has
        // not yet finished the prompt just answered, would be read by the confirmation that follows, as its
        // default "no".
        quiet = setTimeout(() => {
          const finished = output.split('✔').length - 1
          if (answered || output.includes('(y/N)') || !/^\?\s/.test(lastLine(output)) || enters > finished) return
          enters++
          keys.push(`Enter after ${finished} finished prompts, at output ${output.length}`)
          term.write('\r')
        }, 400)
      }
    })
    term.onExit(({exitCode}) => {
      clearTimeout(quiet)
      clearTimeout(timer)
      resolve({exitCode, output: `${output}\n[typed: ${keys.join('; ')}]`})
    })
  })
}

/** The last line shown on the terminal, without colour or cursor sequences. */
function lastLine(output: string): string {
  // A prompt redraws its line by moving to column 1 (ESC [G) and clearing it (ESC [2K): what follows is
  // the line as shown ("✔ label" once answered, not "? label").
  // eslint-disable-next-line no-control-regex
  const plain = output.replace(/\u001b\[G/g, '\r').replace(/\u001b\[[0-9;?]*[A-Za-z]/g, '')
  return (
    plain
      .split(/\r|\n/)
      .map((l) => l.trim())
      .filter(Boolean)
      .at(-1) ?? ''
  )
}

describe('confirmation prompts', {timeout: 60_000}, () => {
  let site: DlqSite

  beforeAll(async () => {
    site = await startDlqSite('osl1')
    await publishCommand(site.conn, 'dv.maskin.cmd.provision', command('maskin.server.provision.requested'))
    const js = await site.conn.js()
    const consumer = await js.consumers.get(STREAMS.cmd, 'maskin')
    await terminate(consumer, 1, 1)
    await eventually(async () => ((await streamMessages(site.conn, STREAMS.dlq)) === 1 ? true : undefined))
  }, 60_000)
  afterAll(async () => site?.dispose())

  const replay = () => `$DVCTL dlq replay --all --server ${site.server.url}`

  it('names the site and URL; "no" is a plain Cancelled, exit 3, nothing sent', async () => {
    const r = await ptyRun(replay(), 'n\r')
    expect(r.exitCode, r.output).toBe(3)
    expect(r.output).toContain(`Replay 1 dead letter(s) on site 127.0.0.1:${site.server.port} (${site.server.url})?`)
    expect(r.output).toContain('Cancelled; nothing was changed.')
    expect(r.output).not.toContain('Error:')
    expect(await streamMessages(site.conn, STREAMS.cmd)).toBe(1)
  })

  it('Ctrl-C at the prompt exits 130 and sends nothing', async () => {
    const r = await ptyRun(replay(), '\u0003')
    expect(r.exitCode, r.output).toBe(130)
    expect(await streamMessages(site.conn, STREAMS.cmd)).toBe(1)
  })

  it('asks when only stdout is piped (| tee), and "yes" replays', async () => {
    const r = await ptyRun(`${replay()} | cat`, 'y\r')
    expect(r.output).toContain('(y/N)')
    expect(r.output).toMatch(/replayed\s+DV_CMD:1/)
    expect(await streamMessages(site.conn, STREAMS.cmd)).toBe(2)
  })

  describe('publish --interactive', () => {
    // No schema for maskin.reboot.requested: the payload is one JSON prompt whose default is {}.
    const publish = () => `$DVCTL publish dv.maskin.cmd.reboot --interactive --server ${site.server.url}`

    it('shows the envelope it built and asks naming the site and URL; "no" sends nothing (exit 3)', async () => {
      const before = await streamMessages(site.conn, STREAMS.cmd)
      const r = await ptyRun(publish(), 'n\r', {enterBefore: true})
      expect(r.exitCode, r.output).toBe(3)
      expect(r.output).toContain('The message for dv.maskin.cmd.reboot:')
      expect(r.output).toContain('"type": "maskin.reboot.requested"')
      expect(r.output).toContain(
        `Publish dv.maskin.cmd.reboot on site 127.0.0.1:${site.server.port} (${site.server.url})?`,
      )
      expect(r.output).toContain('Cancelled; nothing was changed.')
      expect(await streamMessages(site.conn, STREAMS.cmd)).toBe(before)
    })

    it('"yes" publishes the message shown', async () => {
      const before = await streamMessages(site.conn, STREAMS.cmd)
      const r = await ptyRun(publish(), 'y\r', {enterBefore: true})
      expect(r.exitCode, r.output).toBe(0)
      expect(r.output).toMatch(/Published dv\.maskin\.cmd\.reboot to DV_CMD seq \d+/)
      expect(await streamMessages(site.conn, STREAMS.cmd)).toBe(before + 1)
    })
  })
})
