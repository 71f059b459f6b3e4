import {spawn} from 'node:child_process'
import {mkdtemp, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {
  DlqDiscardResult,
  DlqHistoryResult,
  DlqListResult,
  DlqReplayResult,
  DlqShowResult,
} from '../../src/lib/dlq/model.js'
import {archiveSubject} from '../../src/lib/dlq/archive.js'
import {DLQ_ARCHIVE_STREAM, STREAMS} from '../../src/lib/layout/names.js'
import {createWorkerConsumer} from '../../src/lib/sandbox/workers/consumer.js'
import {startWorker, type Worker} from '../../src/lib/sandbox/workers/worker.js'
import {runCli} from '../helpers/cli.js'
import {runCommand} from '../helpers/run.js'
import {command, type DlqSite, eventually, publishCommand, startDlqSite, streamMessages} from './dlq-fixture.js'

describe('dlq', {timeout: 180_000}, () => {
  let site: DlqSite
  let worker: Worker
  let termSeq: number
  let exhaustSeq: number
  let discardSeq: number
  let goneSeq: number
  let termCmd: Record<string, unknown>
  let exhaustCmd: Record<string, unknown>
  /** Once healed, the worker succeeds on every command (the fix that makes a replay worth doing). */
  let healed = false
  const cli = (...args: string[]) => runCommand([...args, '--server', site.server.url])
  const list = async (...args: string[]) => DlqListResult.parse((await cli('dlq', 'list', '--json', ...args)).json())

  /** The replayed copies of one dead letter in DV_CMD (by their Dv-Replay-Of header). */
  async function copiesOf(
    seq: number,
  ): Promise<Array<{seq: number; data: Uint8Array; headers: Record<string, string>}>> {
    const jsm = await site.conn.jsm()
    const last = (await jsm.streams.info(STREAMS.cmd)).state.last_seq
    const copies = []
    for (let s = 1; s <= last; s++) {
      const m = await jsm.streams.getMessage(STREAMS.cmd, {seq: s}).catch(() => null)
      if (m?.header?.get('Dv-Replay-Of') !== `DV_CMD:${seq}`) continue
      const headers: Record<string, string> = {}
      for (const [k, v] of m.header) headers[k] = v[0]
      copies.push({seq: s, data: m.data, headers})
    }
    return copies
  }

  beforeAll(async () => {
    site = await startDlqSite()
    const consumer = await createWorkerConsumer(site.conn, {service: 'maskin', maxDeliver: 3, ackWaitMs: 1000})
    worker = await startWorker(site.conn, {
      service: 'maskin',
      consumer,
      progressSteps: 0,
      behaviour: (c) => {
        if (healed) return 'succeed'
        if (c.envelope.type === 'maskin.server.reboot.requested') return 'transient'
        return {fail: {code: 'quota-exceeded', message: `tenant ${c.envelope.tenant_id} has no quota left`}}
      },
    })
    termCmd = command('maskin.server.provision.requested')
    exhaustCmd = command('maskin.server.reboot.requested')
    termSeq = await publishCommand(site.conn, 'dv.maskin.cmd.provision', termCmd)
    exhaustSeq = await publishCommand(site.conn, 'dv.maskin.cmd.reboot', exhaustCmd)
    discardSeq = await publishCommand(
      site.conn,
      'dv.maskin.cmd.decommission',
      command('maskin.server.decommission.requested'),
    )
    goneSeq = await publishCommand(site.conn, 'dv.maskin.cmd.wipe', command('maskin.server.wipe.requested'))
    await eventually(async () => ((await list()).dead_letters.length === 4 ? true : undefined))
    // The original of one dead letter is gone (deleted here; aged out in real life), and has no archived
    // copy (the listing above made one; dlq-capture.test.ts covers the archive).
    const jsm = await site.conn.jsm()
    await jsm.streams.deleteMessage(STREAMS.cmd, goneSeq)
    await jsm.streams.purge(DLQ_ARCHIVE_STREAM, {filter: archiveSubject(STREAMS.cmd, goneSeq)})
  })
  afterAll(async () => {
    await worker?.stop()
    await site?.dispose()
  })

  it('lists a terminated and an exhausted command with reason, deliveries, correlation and error', async () => {
    const result = await list()
    const term = result.dead_letters.find((d) => d.seq === termSeq)!
    const exhausted = result.dead_letters.find((d) => d.seq === exhaustSeq)!
    expect(term).toMatchObject({
      ref: `DV_CMD:${termSeq}`,
      reason: 'terminated',
      deliveries: 1,
      consumer: 'maskin-sandbox',
      subject: 'dv.maskin.cmd.provision',
      type: 'maskin.server.provision.requested',
      id: termCmd.id,
      correlation_id: termCmd.correlation_id,
      tenant_id: 'acme',
      status: 'pending',
      failure: {code: 'quota-exceeded', message: 'tenant acme has no quota left'},
    })
    expect(exhausted).toMatchObject({
      ref: `DV_CMD:${exhaustSeq}`,
      reason: 'max_deliveries',
      deliveries: 3,
      correlation_id: exhaustCmd.correlation_id,
      status: 'pending',
      failure: {code: 'retries-exhausted', message: 'reboot failed transiently 3 times; giving up'},
    })
  })

  it('counts dead letters per type and per reason with --group-by', async () => {
    const result = await list('--group-by', 'type', '--status', 'all')
    expect(result.groups.map((g) => [g.key, g.count]).sort()).toEqual([
      ['type:_', 1],
      ['type:maskin.server.decommission.requested', 1],
      ['type:maskin.server.provision.requested', 1],
      ['type:maskin.server.reboot.requested', 1],
    ])
    const text = await cli('dlq', 'list', '--group-by', 'reason', '--status', 'all')
    expect(text.stdout.trim().split('\n').sort()).toEqual([
      'reason:max_deliveries\t1\tmax_deliveries',
      'reason:terminated\t3\tterminated',
    ])
  })

  it('shows a dead letter whose original is gone as missing, and refuses to replay it', async () => {
    const missing = await list('--status', 'missing')
    expect(missing.dead_letters).toHaveLength(1)
    expect(missing.dead_letters[0]).toMatchObject({
      ref: `DV_CMD:${goneSeq}`,
      status: 'missing',
      reason: 'terminated',
      consumer: 'maskin-sandbox',
      subject: null,
    })
    const before = await streamMessages(site.conn, STREAMS.cmd)
    const r = await cli('dlq', 'replay', `DV_CMD:${goneSeq}`, '--yes')
    expect(r.exitCode).toBe(6)
    expect(r.stderr).toContain('the original message is gone')
    expect(await streamMessages(site.conn, STREAMS.cmd)).toBe(before)
  })

  it('refuses to replay without a terminal and without --yes (exit 6), and --dry-run sends nothing', async () => {
    const before = await streamMessages(site.conn, STREAMS.cmd)
    const refused = await cli('dlq', 'replay', `DV_CMD:${termSeq}`)
    expect(refused.exitCode).toBe(6)
    expect(refused.stderr).toContain('--yes')
    const dry = await cli('dlq', 'replay', `DV_CMD:${termSeq}`, '--dry-run', '--json')
    expect(dry.exitCode).toBe(0)
    const plan = DlqReplayResult.parse(dry.json())
    expect(plan).toMatchObject({
      dry_run: true,
      replayed: [],
      plan: [{ref: `DV_CMD:${termSeq}`, subject: 'dv.maskin.cmd.provision'}],
    })
    expect(await streamMessages(site.conn, STREAMS.cmd)).toBe(before)
    expect(await copiesOf(termSeq)).toEqual([])
  })

  it('takes what to replay from its command line only: a ref on stdin selects nothing and sends nothing', async () => {
    // oclif alone would read a left-out argument from a stdin that is not a terminal (scripts/build.mjs).
    const before = await streamMessages(site.conn, STREAMS.cmd)
    const server = ['--server', site.server.url]
    const input = `DV_CMD:${termSeq}\n`
    const replay = await runCli(['dlq', 'replay', '--yes', '--json', ...server], {input})
    expect(replay.exitCode).toBe(2)
    expect(replay.json()).toMatchObject({error: {code: 'nothing-selected'}})
    expect(await streamMessages(site.conn, STREAMS.cmd)).toBe(before)
    expect(await copiesOf(termSeq)).toEqual([])
    // A required argument left out is a usage error, whatever stdin holds.
    const show = await runCli(['dlq', 'show', '--json', ...server], {input})
    expect(show.exitCode).toBe(2)
    expect(show.json()).toMatchObject({
      error: {code: 'usage', message: expect.stringContaining('Missing 1 required arg')},
    })
  })

  it('replays a byte-identical copy with the replay headers, and the worker then succeeds', async () => {
    healed = true
    const r = await cli('dlq', 'replay', `DV_CMD:${termSeq}`, '--yes', '--reason', 'quota raised', '--json')
    expect(r.exitCode).toBe(0)
    const result = DlqReplayResult.parse(r.json())
    expect(result.replayed).toHaveLength(1)
    const [copy] = await copiesOf(termSeq)
    expect(copy.seq).toBe(result.replayed[0].new_seq)
    const original = await (await site.conn.jsm()).streams.getMessage(STREAMS.cmd, {seq: termSeq})
    expect(Buffer.from(copy.data).equals(Buffer.from(original!.data))).toBe(true)
    expect(copy.headers).toMatchObject({
      'Dv-Replay-Of': `DV_CMD:${termSeq}`,
      'Dv-Replay-Id': result.replayed[0].replay_id,
      'Nats-Msg-Id': result.replayed[0].replay_id,
      'Dv-Replayed-By': expect.any(String),
    })
    // The worker handles the copy: a succeeded task event caused by the (same) command id.
    await eventually(async () => {
      const jsm = await site.conn.jsm()
      const m = await jsm.streams.getMessage(STREAMS.task, {last_by_subj: 'dv.task.evt.succeeded'}).catch(() => null)
      return m && m.json<{causation_id: string}>().causation_id === termCmd.id ? true : undefined
    })
    expect((await list('--status', 'replayed')).dead_letters.map((d) => d.ref)).toContain(`DV_CMD:${termSeq}`)
  })

  it('refuses a second replay of the same ref without --force', async () => {
    const r = await cli('dlq', 'replay', `DV_CMD:${termSeq}`, '--yes', '--json')
    expect(r.exitCode).toBe(6)
    const refused = DlqReplayResult.parse(r.json())
    expect(refused.skipped[0].reason).toMatch(/already replayed as seq \d+ .*--force/)
    // Not a dry run: it was asked to send, and refused.
    expect(refused.dry_run).toBe(false)
    expect(await copiesOf(termSeq)).toHaveLength(1)
    // Said once: the skipped reason, then what it adds up to, without repeating the reason.
    const human = await cli('dlq', 'replay', `DV_CMD:${termSeq}`, '--yes')
    expect(human.exitCode).toBe(6)
    expect(human.stderr.match(/already replayed/g)).toHaveLength(1)
    expect(human.stderr).toContain('Error: Nothing to replay.')
    const dry = await cli('dlq', 'replay', `DV_CMD:${termSeq}`, '--dry-run', '--json')
    expect(DlqReplayResult.parse(dry.json()).dry_run).toBe(true)
  })

  it('never sends a second copy when killed between publish and ledger update and run again', async () => {
    const dist = (p: string) => fileURLToPath(new URL(`../../dist/lib/${p}`, import.meta.url))
    // A replay that dies (SIGKILL) right after the server acknowledged the copy, before the ledger records it.
    const script = `
      const {connectSite} = await import(${JSON.stringify(dist('nats/connection.js'))})
      const {planReplay, runReplay} = await import(${JSON.stringify(dist('dlq/replay.js'))})
      const conn = await connectSite({name: 'osl1', servers: [${JSON.stringify(site.server.url)}]}, {timeoutMs: 5000})
      const plan = await planReplay(conn, {refs: ['DV_CMD:${exhaustSeq}'], force: false})
      await runReplay(conn, plan, {actor: 'crash-test', reason: null, onPublished: () => process.kill(process.pid, 'SIGKILL')})
    `
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], {stdio: 'inherit'})
    const signal = await new Promise((resolve) => child.on('exit', (_code, sig) => resolve(sig)))
    expect(signal).toBe('SIGKILL')
    expect(await copiesOf(exhaustSeq)).toHaveLength(1)
    const interrupted = (await list()).dead_letters.find((d) => d.seq === exhaustSeq)!
    expect(interrupted).toMatchObject({status: 'pending', replay_in_progress: true})

    const r = await cli('dlq', 'replay', `DV_CMD:${exhaustSeq}`, '--yes', '--json')
    expect(r.exitCode).toBe(0)
    const result = DlqReplayResult.parse(r.json())
    const copies = await copiesOf(exhaustSeq)
    expect(copies).toHaveLength(1)
    expect(result.replayed[0]).toMatchObject({duplicate: true, new_seq: copies[0].seq})
    expect((await list('--status', 'replayed')).dead_letters.map((d) => d.ref)).toContain(`DV_CMD:${exhaustSeq}`)
  })

  it('requires --reason to discard, and history shows the replay and the discard with actor and time', async () => {
    const noReason = await cli('dlq', 'discard', `DV_CMD:${discardSeq}`, '--yes')
    expect(noReason.exitCode).toBe(2)
    expect(noReason.stderr).toContain('reason')
    const refused = await cli('dlq', 'discard', `DV_CMD:${discardSeq}`, '--reason', 'test data')
    expect(refused.exitCode).toBe(6)
    const r = await cli('dlq', 'discard', `DV_CMD:${discardSeq}`, '--reason', 'test data', '--yes', '--json')
    expect(r.exitCode).toBe(0)
    expect(DlqDiscardResult.parse(r.json()).discarded).toMatchObject([
      {ref: `DV_CMD:${discardSeq}`, reason: 'test data'},
    ])

    const h = DlqHistoryResult.parse((await cli('dlq', 'history', '--json')).json()).history
    const replay = h.find((e) => e.ref === `DV_CMD:${termSeq}`)!
    expect(replay).toMatchObject({action: 'replayed', reason: 'quota raised', to_subject: 'dv.maskin.cmd.provision'})
    expect(replay.actor).not.toBe('')
    expect(replay.new_seq).toBeGreaterThan(goneSeq)
    const discard = h.find((e) => e.ref === `DV_CMD:${discardSeq}`)!
    expect(discard).toMatchObject({action: 'discarded', reason: 'test data'})
    expect(Date.parse(discard.at)).toBeGreaterThan(Date.parse(replay.at))
    const one = DlqHistoryResult.parse((await cli('dlq', 'history', `DV_CMD:${discardSeq}`, '--json')).json())
    expect(one.history).toHaveLength(1)
    const text = await cli('dlq', 'history')
    expect(text.stdout).toContain(`DV_CMD:${discardSeq}\t`)
    expect(text.stdout).toContain('discarded\ttest data')
  })

  it('shows a dead letter with its advisory, original, failure events, history and workflow', async () => {
    const r = await cli('dlq', 'show', `DV_CMD:${termSeq}`, '--json')
    expect(r.exitCode).toBe(0)
    const shown = DlqShowResult.parse(r.json())
    expect(shown.dead_letter).toMatchObject({ref: `DV_CMD:${termSeq}`, status: 'replayed'})
    expect(shown.advisory).toMatchObject({type: 'io.nats.jetstream.advisory.v1.terminated', stream_seq: termSeq})
    expect(shown.envelope).toEqual(termCmd)
    expect(shown.headers['Nats-Msg-Id']).toEqual([termCmd.id])
    expect(shown.failure_events.map((e) => (e.envelope as {type: string}).type)).toEqual(['task.failed'])
    expect(shown.history).toMatchObject([{action: 'replayed', reason: 'quota raised'}])
    expect(shown.workflow.source).toBe('workflow')
    expect(shown.workflow.messages.map((m) => m.seq)).toContain(termSeq)

    const text = await cli('dlq', 'show', `DV_CMD:${termSeq}`)
    for (const heading of ['Advisory', 'Headers', 'Envelope', 'Failure events', 'History', 'Workflow'])
      expect(text.stdout).toContain(heading)
    expect(text.stdout).toContain('quota-exceeded')
    const none = await cli('dlq', 'show', 'DV_CMD:9999')
    expect(none.exitCode).toBe(5)

    // --site takes one value per flag: the reference after it is the argument, not a second site.
    const dir = await mkdtemp(join(tmpdir(), 'dvctl-dlq-site-'))
    try {
      const config = join(dir, 'config.yaml')
      await writeFile(config, `sites:\n  osl1: {servers: ["${site.server.url}"]}\n`)
      const bySite = await runCommand(['dlq', 'show', '--site', 'osl1', `DV_CMD:${termSeq}`, '--json'], {
        env: {DVCTL_CONFIG: config},
      })
      expect(bySite.exitCode, bySite.stdout + bySite.stderr).toBe(0)
      expect(DlqShowResult.parse(bySite.json()).dead_letter).toMatchObject({ref: `DV_CMD:${termSeq}`})
    } finally {
      await rm(dir, {recursive: true, force: true})
    }
  })

  it('--edit sends the edited envelope as a new message caused by the original; --to is checked', async () => {
    const badTo = await cli('dlq', 'replay', `DV_CMD:${termSeq}`, '--force', '--yes', '--to', 'dv.maskin.cmd')
    expect(badTo.exitCode).toBe(2)
    expect(badTo.stderr).toContain('not a subject of the taxonomy')
    const r = await runCommand(
      ['dlq', 'replay', `DV_CMD:${termSeq}`, '--edit', '--force', '--yes', '--json', '--server', site.server.url],
      {env: {EDITOR: 'sed -i s/web-1/web-2/', VISUAL: ''}},
    )
    expect(r.exitCode).toBe(0)
    const [sent] = DlqReplayResult.parse(r.json()).replayed
    expect(sent.new_id).toBeTruthy()
    const copy = await (await site.conn.jsm()).streams.getMessage(STREAMS.cmd, {seq: sent.new_seq})
    const envelope = copy!.json<Record<string, unknown>>()
    expect(envelope).toMatchObject({
      id: sent.new_id,
      causation_id: termCmd.id,
      correlation_id: termCmd.correlation_id,
      data: {server_id: 'srv-1', profile: 'small', hostname: 'web-2'},
    })
    expect(copy!.header.get('Dv-Replay-Of')).toBe(`DV_CMD:${termSeq}`)
  })
})
