// Issue 13, items 3 and 4, against a real nats-server: messages nested 20,000 levels deep, a chain of
// 5,000 causes, a task error whose code is {"toString":1}, and fields, headers, a consumer name and ledger
// entries carrying terminal escapes (OSC 0, OSC 8, CSI, C1, BEL, CR). The readers must keep working and
// show the other messages; what reaches a terminal (a real pseudo-terminal here) or a TSV line must hold
// no control byte of the data.
import {randomUUID} from 'node:crypto'
import {mkdtemp, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'

import {AckPolicy} from '@nats-io/jetstream'
import {headers as natsHeaders} from '@nats-io/transport-node'
import pty from '@lydell/node-pty'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {DlqListResult, DlqShowResult} from '../../src/lib/dlq/model.js'
import {STREAMS} from '../../src/lib/layout/names.js'
import {WorkflowResult} from '../../src/lib/workflow/read.js'
import {TREE_DEPTH_LIMIT, type CausationNode} from '../../src/lib/workflow/tree.js'
import {runCli} from '../helpers/cli.js'
import {command, type DlqSite, eventually, startDlqSite} from './dlq-fixture.js'

const RUN = fileURLToPath(new URL('../../bin/run.js', import.meta.url))

const OSC_TITLE = '\u001b]0;pwned\u0007'
const OSC_LINK = '\u001b]8;;https://evil.example/\u0007click\u001b]8;;\u0007'
const CSI_CLEAR = '\u001b[2J'
const C1_CSI = '\u009b31m'
const CR = 'over\rwritten'
const HOSTILE = `${OSC_TITLE}${OSC_LINK}${CSI_CLEAR}${C1_CSI}${CR}`
/** NATS header values cannot hold CR or LF (the protocol refuses them); everything else goes. */
const HOSTILE_HEADER = `${OSC_TITLE}${OSC_LINK}${CSI_CLEAR}${C1_CSI}`
/** ESC, BEL and the C1 CSI: what must never reach the terminal from the data. */
// eslint-disable-next-line no-control-regex
const RAW_ESCAPE = /[\u001b\u0007\u009b]/
/** Any control character but TAB and LF (the TSV's own separators). */
// eslint-disable-next-line no-control-regex
const RAW_CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/
const DEPTH = 20_000
const CHAIN = 5_000

/** `{"a":{"a":...{"a":"bottom"}...}}`, DEPTH levels, as JSON text (JSON.stringify cannot write it). */
const DEEP_JSON = '{"a":'.repeat(DEPTH) + '"bottom"' + '}'.repeat(DEPTH)

/** An envelope's JSON with its data replaced by DEEP_JSON. */
const withDeepData = (envelope: Record<string, unknown>) =>
  JSON.stringify({...envelope, data: '@deep'}).replace('"@deep"', DEEP_JSON)

/** How many levels of `a` a value has (iteratively; vitest's deep equality would recurse). */
function depthOf(value: unknown): number {
  let n = 0
  let v = value
  while (v && typeof v === 'object' && 'a' in v) {
    v = (v as {a: unknown}).a
    n++
  }
  return v === 'bottom' ? n : -1
}

/** The deepest level of a nested tree, iteratively. */
function treeDepth(tree: CausationNode[]): number {
  let max = 0
  const stack = tree.map((node) => ({node, depth: 1}))
  while (stack.length) {
    const {node, depth} = stack.pop()!
    max = Math.max(max, depth)
    for (const c of node.children) stack.push({node: c, depth: depth + 1})
  }
  return max
}

/** Runs dvctl under a pseudo-terminal (stdout and stdin are a TTY) and returns everything it printed. */
function runPty(args: string[], env: Record<string, string>): Promise<{exitCode: number; output: string}> {
  return new Promise((resolve, reject) => {
    const fullEnv: Record<string, string> = {}
    for (const [k, v] of Object.entries(process.env)) if (v !== undefined) fullEnv[k] = v
    Object.assign(fullEnv, {TERM: 'xterm-256color', NO_COLOR: '1', NATS_URL: 'nats://127.0.0.1:1'}, env)
    delete fullEnv.DV_SITE
    const t = pty.spawn(process.execPath, [RUN, ...args], {cols: 120, rows: 40, env: fullEnv})
    let output = ''
    const timer = setTimeout(() => {
      t.kill('SIGKILL')
      reject(new Error(`dvctl ${args.join(' ')} did not end under the pty; output so far:\n${output}`))
    }, 60_000)
    t.onData((d) => (output += d))
    t.onExit(({exitCode}) => {
      clearTimeout(timer)
      resolve({exitCode, output})
    })
  })
}

/** The bytes of the data that must never reach the terminal: ESC, BEL, a C1 CSI, and a CR of its own. */
function expectNoControlBytes(output: string, what: string): void {
  const at = (i: number) => JSON.stringify(output.slice(Math.max(0, i - 40), i + 40))
  const esc = output.search(RAW_ESCAPE)
  expect(esc, `${what}: a raw control byte near ${at(esc)}`).toBe(-1)
  // The terminal's own line endings are \r\n (onlcr); any other CR came from the data.
  const cr = output.search(/\r(?!\n)/)
  expect(cr, `${what}: a raw CR near ${at(cr)}`).toBe(-1)
}

describe('hostile input and terminal escapes', {timeout: 240_000}, () => {
  let site: DlqSite
  let dir: string
  let env: Record<string, string>
  const deepCorr = randomUUID()
  const escCorr = randomUUID()
  let deepCmd: Record<string, unknown>
  let deepEvent: Record<string, unknown>
  let sibling: Record<string, unknown>
  let escCmd: Record<string, unknown>
  let deepRef: string
  let escRef: string
  const chainIds: string[] = []
  const cli = (...args: string[]) => runCli([...args, '--server', site.server.url], {env, timeoutMs: 120_000})

  /** Publishes on JetStream as a sender would (Nats-Msg-Id = id). */
  async function send(subject: string, body: Record<string, unknown>, hdrs?: Record<string, string>, raw?: string) {
    const js = await site.conn.js()
    const h = natsHeaders()
    for (const [k, v] of Object.entries(hdrs ?? {})) h.append(k, v)
    return (await js.publish(subject, raw ?? JSON.stringify(body), {msgID: String(body.id), headers: h})).seq
  }

  /** Dead-letters one DV_CMD message the way a worker gives up on it: a consumer that terminates it. */
  async function terminate(consumer: string, subject: string): Promise<void> {
    const jsm = await site.conn.jsm()
    await jsm.consumers.add(STREAMS.cmd, {
      durable_name: consumer,
      ack_policy: AckPolicy.Explicit,
      filter_subject: subject,
    })
    const js = await site.conn.js()
    const c = await js.consumers.get(STREAMS.cmd, consumer)
    const m = await c.next({expires: 5000})
    if (!m) throw new Error(`no message for ${consumer}`)
    m.term()
  }

  const taskFailed = (correlation: string, causation: string, error: Record<string, unknown>) =>
    command('task.failed', {
      source: 'maskin',
      subject: `task-${causation.slice(0, 8)}`,
      correlation_id: correlation,
      causation_id: causation,
      data: {task_id: `task-${causation.slice(0, 8)}`, state: 'failed', error},
    })

  beforeAll(async () => {
    site = await startDlqSite()
    dir = await mkdtemp(join(tmpdir(), 'dvctl-hostile-'))
    const config = join(dir, 'config.yaml')
    // The operator's identity as the ledger records it, escapes included (YAML's \e is ESC, \a is BEL).
    await writeFile(config, `actor: "ops\\e]0;pwned\\a\\rX"\n`)
    env = {DVCTL_CONFIG: config}

    // Deep: a dead command nested 20,000 levels, a 20,000-deep event, a sibling, a failure whose code is
    // an object with a toString key, and a chain of 5,000 causes.
    deepCmd = command('maskin.server.provision.requested', {correlation_id: deepCorr})
    await send('dv.maskin.cmd.provision', deepCmd, undefined, withDeepData(deepCmd))
    deepEvent = command('maskin.server.provisioned', {
      source: 'maskin',
      correlation_id: deepCorr,
      causation_id: deepCmd.id,
    })
    await send('dv.maskin.evt.server.provisioned', deepEvent, undefined, withDeepData(deepEvent))
    sibling = command('maskin.server.provisioned', {
      source: 'maskin',
      correlation_id: deepCorr,
      causation_id: deepCmd.id,
      data: {server_id: 'the-sibling'},
    })
    await send('dv.maskin.evt.server.provisioned', sibling)
    await send('dv.task.evt.failed', taskFailed(deepCorr, String(deepCmd.id), {code: {toString: 1}, retryable: false}))
    const js = await site.conn.js()
    let cause = String(sibling.id)
    const acks: Array<Promise<unknown>> = []
    for (let i = 0; i < CHAIN; i++) {
      const e = command('maskin.server.rebooted', {source: 'maskin', correlation_id: deepCorr, causation_id: cause})
      chainIds.push(String(e.id))
      cause = String(e.id)
      acks.push(js.publish('dv.maskin.evt.server.rebooted', JSON.stringify(e), {msgID: String(e.id)}))
    }
    await Promise.all(acks)

    // Escapes: every field a reader shows carries OSC, CSI, C1 and CR.
    escCmd = command('maskin.server.provision.requested', {
      id: `id-${HOSTILE_HEADER}-${randomUUID()}`,
      correlation_id: escCorr,
      tenant_id: `acme${HOSTILE}`,
      actor: `user${HOSTILE}`,
      subject: `srv${HOSTILE}`,
      data: {server_id: `srv${HOSTILE}`, profile: 'small', hostname: HOSTILE},
    })
    await send('dv.maskin.cmd.decommission', escCmd, {'X-Evil': `v${HOSTILE_HEADER}`})
    await send(
      'dv.task.evt.failed',
      taskFailed(escCorr, String(escCmd.id), {
        code: `quota${OSC_TITLE}`,
        message: `no${OSC_LINK}${CR}`,
        retryable: false,
      }),
    )
    await send(
      'dv.maskin.evt.server.provisioned',
      command('maskin.server.provisioned', {
        source: 'maskin',
        correlation_id: escCorr,
        causation_id: escCmd.id,
        type: `maskin.server.provisioned`,
        data: {note: HOSTILE, [`key${CSI_CLEAR}`]: 1},
      }),
      {[`X-Key`]: `${CSI_CLEAR}${C1_CSI}`},
    )

    await terminate('deep-worker', 'dv.maskin.cmd.provision')
    await terminate(`evil${OSC_TITLE}${C1_CSI}`, 'dv.maskin.cmd.decommission')
    const listed = await eventually(async () => {
      const r = await cli('dlq', 'list', '--json')
      const l = r.exitCode === 0 ? DlqListResult.parse(r.json()) : undefined
      return l && l.dead_letters.length === 2 ? l : undefined
    })
    deepRef = listed.dead_letters.find((d) => d.id === deepCmd.id)!.ref
    escRef = listed.dead_letters.find((d) => d.id === escCmd.id)!.ref
    // A ledger entry whose reason carries escapes (and whose actor does, from the config).
    const discarded = await cli('dlq', 'discard', escRef, '--reason', `because${HOSTILE}`, '--yes')
    expect(discarded.exitCode, discarded.stderr).toBe(0)
  })
  afterAll(async () => {
    await site?.dispose()
    if (dir) await rm(dir, {recursive: true, force: true})
  })

  describe('deep input', () => {
    it('tail shows the 20,000-deep message and every other one, as lines and as JSON', async () => {
      const text = await cli('tail', '--since', '1h', '--correlation', deepCorr)
      expect(text.exitCode, text.stderr).toBe(0)
      const lines = text.stdout.split('\n').filter(Boolean)
      expect(lines).toHaveLength(CHAIN + 4)
      // Each message is one line, cut short: the deep ones included (valid or not, they are shown).
      const deepLine = lines.find((l) => l.includes(String(deepEvent.id).slice(0, 8)))!
      expect(deepLine).toContain('dv.maskin.evt.server.provisioned')
      expect(deepLine.length).toBeLessThan(600)
      expect(lines.some((l) => l.includes(String(sibling.id).slice(0, 8)))).toBe(true)
      expect(lines.filter((l) => l.includes('dv.task.evt.failed'))).toHaveLength(1)
      expect(Math.max(...lines.map((l) => l.length))).toBeLessThan(600)

      const json = await cli('tail', '--since', '1h', '--correlation', deepCorr, '--json')
      expect(json.exitCode, json.stderr).toBe(0)
      const parsed = json.lines<{envelope?: Record<string, unknown>; raw?: string}>()
      expect(parsed).toHaveLength(CHAIN + 4)
      // The JSON keeps the whole message, all 20,000 levels: as its envelope, or its raw text when the
      // payload schema finds fault with it.
      const deep = parsed.find((l) => l.envelope?.id === deepEvent.id || l.raw?.includes(String(deepEvent.id)))!
      expect(depthOf(deep.envelope ? deep.envelope.data : JSON.parse(deep.raw!).data)).toBe(DEPTH)
    })

    it('workflow show draws the tree with the deep chain folded, and the timeline lists every message', async () => {
      const tree = await cli('workflow', 'show', deepCorr)
      expect(tree.exitCode, tree.stderr).toBe(0)
      const lines = tree.stdout.split('\n')
      expect(lines[0]).toContain(`Workflow ${deepCorr}`)
      expect(lines[0]).toContain(`${CHAIN + 4} messages`)
      for (const id of [deepCmd.id, deepEvent.id, sibling.id, chainIds[0]])
        expect(lines.some((l) => l.includes(String(id).slice(0, 8)))).toBe(true)
      // Root, sibling, then 18 more levels of the chain are drawn; the remaining 4,982 are one line.
      expect(tree.stdout).toMatch(/└─ … 4,982 more levels \(4,982 messages; --view timeline lists them\)/)
      expect(tree.stdout).toContain('✗ failed: {"toString":1}')
      expect(lines.length).toBeLessThan(100)
      expect(Math.max(...lines.map((l) => l.length))).toBeLessThan(300)

      const timeline = await cli('workflow', 'show', deepCorr, '--view', 'timeline')
      expect(timeline.exitCode, timeline.stderr).toBe(0)
      for (const id of [...chainIds, deepEvent.id, sibling.id])
        expect(timeline.stdout).toContain(String(id).slice(0, 8))
    })

    it('workflow show --json keeps every message whole, and a tree nested at most 100 levels', async () => {
      const r = await cli('workflow', 'show', deepCorr, '--json')
      expect(r.exitCode, r.stderr).toBe(0)
      const result = WorkflowResult.parse(r.json())
      expect(result.messages).toHaveLength(CHAIN + 4)
      expect(depthOf(result.messages.find((m) => m.id === deepEvent.id)!.envelope.data)).toBe(DEPTH)
      expect(depthOf(result.messages.find((m) => m.id === deepCmd.id)!.envelope.data)).toBe(DEPTH)
      expect(treeDepth(result.tree)).toBe(TREE_DEPTH_LIMIT)
      // The node at the limit stands for what is below it: root, sibling and 98 chain links are nested.
      let node = result.tree[0].children.find((c) => c.id === sibling.id)!
      for (let level = 2; level < TREE_DEPTH_LIMIT; level++) node = node.children[0]
      expect(node.id).toBe(chainIds[TREE_DEPTH_LIMIT - 3])
      expect(node.children).toEqual([])
      expect(node.folded).toEqual({levels: CHAIN - (TREE_DEPTH_LIMIT - 2), messages: CHAIN - (TREE_DEPTH_LIMIT - 2)})
      expect(result.failures).toHaveLength(1)
    })

    it('dlq show of a 20,000-deep original with a failure code {"toString":1} works, as text and JSON', async () => {
      const text = await cli('dlq', 'show', deepRef)
      expect(text.exitCode, text.stderr).toBe(0)
      for (const heading of ['Advisory', 'Headers', 'Envelope', 'Failure events', 'History', 'Workflow'])
        expect(text.stdout).toContain(heading)
      expect(text.stdout).toContain('task.failed  {"toString":1}')
      expect(text.stdout).toContain('more levels')
      expect(text.stdout.length).toBeLessThan(1_000_000)

      const json = await cli('dlq', 'show', deepRef, '--json')
      expect(json.exitCode, json.stderr).toBe(0)
      const shown = DlqShowResult.parse(json.json())
      expect(depthOf((shown.envelope as {data: unknown}).data)).toBe(DEPTH)
      expect(shown.failure_events).toHaveLength(1)
    })
  })

  describe('terminal escapes', () => {
    const commands: Array<[string, () => string[]]> = [
      ['dlq list', () => ['dlq', 'list', '--status', 'all']],
      ['dlq show', () => ['dlq', 'show', escRef]],
      ['dlq history', () => ['dlq', 'history']],
      ['tail', () => ['tail', '--since', '1h', '--correlation', escCorr, '--headers']],
      ['workflow show', () => ['workflow', 'show', escCorr]],
      ['workflow show --view timeline', () => ['workflow', 'show', escCorr, '--view', 'timeline']],
      ['task list', () => ['task', 'list', '--correlation', escCorr]],
      ['workflow list --wide', () => ['workflow', 'list', '--since', '1h', '--wide']],
      ['workflow count --group-by tenant', () => ['workflow', 'count', '--since', '1h', '--group-by', 'tenant']],
    ]
    for (const [name, args] of commands) {
      it(`${name} under a pseudo-terminal with NO_COLOR prints no ESC, BEL, C1 or stray CR`, async () => {
        const r = await runPty([...args(), '--server', site.server.url], env)
        expect(r.exitCode, r.output).toBe(0)
        expectNoControlBytes(r.output, name)
        // The data is there, made visible.
        expect(r.output).toContain('\\x1b]')
      })
    }

    it('shows each kind of escape as visible text: OSC, OSC 8, CSI, C1 and CR', async () => {
      const r = await runPty(['dlq', 'show', escRef, '--server', site.server.url], env)
      for (const shown of ['\\x1b]8;;https://evil.example/\\x07click', '\\x1b[2J', '\\u009b31m', 'over\\rwritten'])
        expect(r.output).toContain(shown)
      // Consumer name, header, tenant, the ledger's actor and reason.
      expect(r.output).toContain('consumer evil\\x1b]0;pwned\\x07')
      expect(r.output).toContain('X-Evil: v\\x1b]0;pwned\\x07')
      expect(r.output).toContain('acme\\x1b]0;pwned')
      expect(r.output).toContain('ops\\x1b]0;pwned\\x07\\rX')
      expect(r.output).toContain('because\\x1b]0;pwned')
    })

    it('piped TSV (dlq list, dlq history, task list) and task watch lines hold no control byte of the data', async () => {
      const outputs = await Promise.all([
        cli('dlq', 'list', '--status', 'all'),
        cli('dlq', 'history'),
        cli('task', 'list', '--correlation', escCorr),
        cli('task', 'watch', '--correlation', escCorr, '--until-done', '--wait-timeout', '20s'),
      ])
      for (const r of outputs) {
        expect(r.stdout).not.toMatch(RAW_CONTROL)
        expect(r.stderr).not.toMatch(RAW_CONTROL)
      }
      const [list, history, tasks, watch] = outputs
      expect(list.exitCode, list.stderr).toBe(0)
      // Every row keeps its columns: the data's tabs and newlines cannot split a row.
      const rows = list.stdout.trim().split('\n')
      expect(rows).toHaveLength(2)
      for (const row of rows) expect(row.split('\t')).toHaveLength(10)
      expect(list.stdout).toContain('evil\\x1b]0;pwned\\x07')
      expect(history.exitCode, history.stderr).toBe(0)
      expect(history.stdout).toContain('because\\x1b]0;pwned\\x07')
      expect(history.stdout).toContain('ops\\x1b]0;pwned\\x07\\rX')
      expect(tasks.exitCode, tasks.stderr).toBe(0)
      expect(watch.exitCode, watch.stderr).toBe(8)
      expect(watch.stdout).toContain('quota\\x1b]0;pwned\\x07: no\\x1b]8;;https://evil.example/\\x07click')
    })
  })
})
