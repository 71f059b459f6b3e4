// Issue 13, items 1 and 2: a dead letter is replayable only when its original is provably the message that
// failed, advisories are untrusted input, and a replay never publishes outside the command subjects.
// Everything on a real nats-server; assertions on the CLI's JSON, exit codes and the streams' contents.
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {DlqListResult, DlqReplayResult} from '../../src/lib/dlq/model.js'
import {planReplay, runReplay} from '../../src/lib/dlq/replay.js'
import {DLQ_ARCHIVE_STREAM, DLQ_LEDGER_BUCKET, STREAMS} from '../../src/lib/layout/names.js'
import {runCommand} from '../helpers/run.js'
import {command, type DlqSite, eventually, publishCommand, startDlqSite, streamMessages} from './dlq-fixture.js'

const KV_STREAM = `KV_${DLQ_LEDGER_BUCKET}`
const MAX_DELIVERIES = '$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES'

/** Terminates the next `count` commands of the layout's `maskin` consumer: one real dead letter each. */
async function terminate(site: DlqSite, count: number): Promise<number[]> {
  const js = await site.conn.js()
  const consumer = await js.consumers.get(STREAMS.cmd, 'maskin')
  const seqs: number[] = []
  while (seqs.length < count) {
    const m = await consumer.next({expires: 5000})
    if (!m) throw new Error('no command to terminate')
    m.term()
    seqs.push(m.seq)
  }
  return seqs
}

/** How many copies replays have put into DV_CMD (messages with Dv-Replay-Of). */
async function replayCopies(site: DlqSite): Promise<Array<{seq: number; of: string}>> {
  const jsm = await site.conn.jsm()
  const last = (await jsm.streams.info(STREAMS.cmd)).state.last_seq
  const copies = []
  for (let s = 1; s <= last; s++) {
    const m = await jsm.streams.getMessage(STREAMS.cmd, {seq: s}).catch(() => null)
    const of = m?.header?.get('Dv-Replay-Of')
    if (of) copies.push({seq: s, of})
  }
  return copies
}

describe('dlq after DV_CMD is recreated', {timeout: 300_000}, () => {
  let site: DlqSite
  const cli = (...args: string[]) => runCommand([...args, '--server', site.server.url])
  const list = async (...args: string[]) => DlqListResult.parse((await cli('dlq', 'list', '--json', ...args)).json())
  let oldRefs: string[] = []

  beforeAll(async () => {
    site = await startDlqSite()
    for (let i = 0; i < 3; i++) await publishCommand(site.conn, 'dv.maskin.cmd.provision', command('maskin.x.y'))
    oldRefs = (await terminate(site, 3)).map((seq) => `DV_CMD:${seq}`)
    await eventually(async () => ((await list()).dead_letters.length === 3 ? true : undefined))
    // Without copies in the dead-letter archive (that listing made them; dlq-capture.test.ts covers them).
    await (await site.conn.jsm()).streams.purge(DLQ_ARCHIVE_STREAM)
    // The operator deletes DV_CMD and applies the layout again; new commands reuse sequences 1, 2, 3.
    await (await site.conn.jsm()).streams.delete(STREAMS.cmd)
    const applied = await cli('layout', 'apply', '--yes')
    expect(applied.exitCode, applied.stderr).toBe(0)
    for (let i = 0; i < 3; i++) {
      await publishCommand(site.conn, 'dv.maskin.cmd.provision', command('maskin.new.cmd', {tenant_id: 'other'}))
    }
  })
  afterAll(async () => site?.dispose())

  it('lists every old dead letter as missing (stream-recreated), never joined to the new commands', async () => {
    expect(await streamMessages(site.conn, STREAMS.cmd)).toBe(3)
    const all = await list('--status', 'all')
    expect(all.dead_letters.map((d) => d.ref).sort()).toEqual([...oldRefs].sort())
    for (const d of all.dead_letters) {
      expect(d).toMatchObject({
        status: 'missing',
        missing_reason: 'stream-recreated',
        subject: null,
        type: null,
        id: null,
        tenant_id: null,
      })
      expect(d.problems[0].message).toContain('recreated')
    }
    expect((await list()).dead_letters).toEqual([])
    const text = await cli('dlq', 'list', '--status', 'missing')
    expect(text.stdout).toContain('missing (stream-recreated)')
  })

  it('dlq replay --all --yes sends nothing, and a named old ref is refused with the reason', async () => {
    const before = await streamMessages(site.conn, STREAMS.cmd)
    for (const status of ['pending', 'all']) {
      const r = await cli('dlq', 'replay', '--all', '--status', status, '--yes', '--json')
      expect(r.exitCode, r.stderr).toBe(0)
      const result = DlqReplayResult.parse(r.json())
      expect(result.replayed).toEqual([])
      expect(result.plan).toEqual([])
    }
    const named = await cli('dlq', 'replay', oldRefs[0], '--yes', '--force', '--json')
    expect(named.exitCode).toBe(6)
    expect(DlqReplayResult.parse(named.json()).skipped[0].reason).toContain('recreated')
    expect(await streamMessages(site.conn, STREAMS.cmd)).toBe(before)
    expect(await replayCopies(site)).toEqual([])
  })

  it('a dead letter of the new incarnation at a reused sequence is pending and replayed once', async () => {
    const [seq] = await terminate(site, 1)
    const ref = `DV_CMD:${seq}`
    expect(oldRefs).toContain(ref)
    const letter = await eventually(async () => (await list()).dead_letters.find((d) => d.ref === ref))
    expect(letter).toMatchObject({status: 'pending', tenant_id: 'other', type: 'maskin.new.cmd', missing_reason: null})
    const r = await cli('dlq', 'replay', '--all', '--yes', '--json')
    expect(r.exitCode, r.stderr).toBe(0)
    expect(DlqReplayResult.parse(r.json()).replayed.map((x) => x.ref)).toEqual([ref])
    expect(await replayCopies(site)).toEqual([{seq: expect.any(Number), of: ref}])
  })
})

describe('dlq with forged advisories', {timeout: 300_000}, () => {
  let site: DlqSite
  let realRef: string
  const cli = (...args: string[]) => runCommand([...args, '--server', site.server.url])
  const list = async (...args: string[]) => {
    const r = await cli('dlq', 'list', '--json', ...args)
    expect(r.exitCode, r.stderr).toBe(0)
    return DlqListResult.parse(r.json())
  }
  const forge = async (subject: string, body: Record<string, unknown>) => {
    const js = await site.conn.js()
    await js.publish(subject, JSON.stringify({id: 'forged', timestamp: new Date().toISOString(), ...body}))
  }
  const advisory = (stream: string, consumer: string, seq: unknown) => ({
    type: 'io.nats.jetstream.advisory.v1.max_deliver',
    stream,
    consumer,
    stream_seq: seq,
    deliveries: 5,
  })
  const counts = async () => ({
    evt: await streamMessages(site.conn, STREAMS.evt),
    kv: await streamMessages(site.conn, KV_STREAM),
    dlq: await streamMessages(site.conn, STREAMS.dlq),
  })

  beforeAll(async () => {
    site = await startDlqSite()
    // One genuine dead letter, and messages the forgeries point at in other streams.
    await publishCommand(site.conn, 'dv.maskin.cmd.provision', command('maskin.server.provision.requested'))
    const nettSeq = await publishCommand(site.conn, 'dv.nett.cmd.apply', command('nett.port.apply.requested'))
    realRef = `DV_CMD:${(await terminate(site, 1))[0]}`
    const js = await site.conn.js()
    await js.publish('dv.maskin.evt.server.provisioned', JSON.stringify(command('maskin.server.provisioned')))
    await (await site.conn.jsm()).streams.info(KV_STREAM)
    await js.publish(`$KV.${DLQ_LEDGER_BUCKET}.DV_CMD.999`, JSON.stringify({action: 'discarded'}))

    // Well-formed forgeries pointing outside the command streams, and one outside the consumer's filter.
    await forge(`${MAX_DELIVERIES}.DV_EVT.maskin`, advisory('DV_EVT', 'maskin', 1))
    await forge(`${MAX_DELIVERIES}.${KV_STREAM}.maskin`, advisory(KV_STREAM, 'maskin', 1))
    await forge(`${MAX_DELIVERIES}.DV_DLQ.maskin`, advisory('DV_DLQ', 'maskin', 1))
    await forge(`${MAX_DELIVERIES}.DV_CMD.maskin`, advisory('DV_CMD', 'maskin', nettSeq))
    // Invalid ones: sequence 0, a wildcard stream name, a 10,000-character name, a body that names another
    // stream than its subject, a wrong type, and bytes that are not JSON.
    await forge(`${MAX_DELIVERIES}.DV_CMD.maskin`, advisory('DV_CMD', 'maskin', 0))
    await forge(`${MAX_DELIVERIES}.DV_CMD.maskin`, advisory('DV_CMD.>', 'maskin', 1))
    await forge(`${MAX_DELIVERIES}.DV_CMD.maskin`, advisory('S'.repeat(10_000), 'maskin', 1))
    await forge(`${MAX_DELIVERIES}.DV_CMD.maskin`, advisory('DV_EVT', 'maskin', 1))
    await forge(`${MAX_DELIVERIES}.DV_CMD.maskin`, {...advisory('DV_CMD', 'maskin', 1), type: 'x.max_deliver'})
    await js.publish(
      `${MAX_DELIVERIES}.DV_CMD.maskin`,
      new TextEncoder().encode('{"stream": [[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]}'),
    )
    await eventually(async () => ((await list('--status', 'all')).dead_letters.length >= 11 ? true : undefined))
  })
  afterAll(async () => site?.dispose())

  it('lists the real dead letter and every forgery without failing, each under its own status', async () => {
    const pending = await list()
    expect(pending.dead_letters.map((d) => d.ref)).toEqual([realRef])
    const all = await list('--status', 'all')
    const byStatus = (s: string) => all.dead_letters.filter((d) => d.status === s)
    expect(byStatus('pending').map((d) => d.ref)).toEqual([realRef])
    const missing = Object.fromEntries(byStatus('missing').map((d) => [d.ref, d.missing_reason]))
    expect(missing).toEqual({
      'DV_EVT:1': 'not-a-command-stream',
      [`${KV_STREAM}:1`]: 'not-a-command-stream',
      'DV_DLQ:1': 'not-a-command-stream',
      'DV_CMD:2': 'outside-consumer-filter',
    })
    const invalid = byStatus('invalid')
    expect(invalid).toHaveLength(6)
    const codes = invalid.map((d) => d.problems.map((p) => p.code).sort())
    expect(codes).toEqual(
      expect.arrayContaining([
        ['bad-stream-seq'],
        ['bad-stream'],
        ['bad-stream'],
        ['subject-mismatch'],
        ['bad-type'],
        ['too-deep'],
      ]),
    )
    for (const d of invalid) {
      expect(d.ref).toMatch(/^DV_DLQ@\d+$/)
      expect(d.stream.length).toBeLessThanOrEqual(65)
      expect(d.subject).toBeNull()
    }
    expect((await list('--status', 'invalid')).dead_letters).toHaveLength(6)
    for (const args of [['--status', 'all'], ['--group-by', 'type', '--status', 'all'], []]) {
      const text = await cli('dlq', 'list', ...args)
      expect(text.exitCode, text.stderr).toBe(0)
    }
    expect((await cli('dlq', 'list', '--status', 'all')).stdout).toContain(realRef)
  })

  it('never replays a forgery: only the real dead letter is sent, nothing reaches DV_EVT, the ledger or DV_DLQ', async () => {
    const before = await counts()
    for (const ref of ['DV_EVT:1', `${KV_STREAM}:1`, 'DV_DLQ:1', 'DV_CMD:2']) {
      const r = await cli('dlq', 'replay', ref, '--yes', '--force', '--json')
      expect(r.exitCode, ref).toBe(6)
      expect(DlqReplayResult.parse(r.json()).replayed).toEqual([])
    }
    const r = await cli('dlq', 'replay', '--all', '--status', 'all', '--force', '--yes', '--json')
    expect(r.exitCode, r.stderr).toBe(0)
    const result = DlqReplayResult.parse(r.json())
    expect(result.replayed.map((x) => x.ref)).toEqual([realRef])
    expect(result.replayed[0].subject).toBe('dv.maskin.cmd.provision')
    const after = await counts()
    // The ledger gets its own records of the one replay; nothing else is written anywhere.
    expect({...after, kv: before.kv}).toEqual(before)
    expect(await replayCopies(site)).toEqual([{seq: expect.any(Number), of: realRef}])
  })

  it('checks the target right before publishing: a plan aimed at $KV., $JS. or _INBOX. sends nothing', async () => {
    const plan = await planReplay(site.conn, {refs: [realRef], force: true})
    expect(plan.items).toHaveLength(1)
    const before = await counts()
    const cmdBefore = await streamMessages(site.conn, STREAMS.cmd)
    for (const subject of [
      `$KV.${DLQ_LEDGER_BUCKET}.forged`,
      '$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.DV_CMD.maskin',
      '_INBOX.x',
      'dv.maskin.evt.server.provisioned',
    ]) {
      const forged = {...plan, items: [{...plan.items[0], subject}]}
      const result = await runReplay(site.conn, forged, {actor: 'test', reason: null})
      expect(result.replayed).toEqual([])
      expect(result.failed).toEqual([{ref: realRef, error: expect.stringContaining('refused to publish')}])
    }
    const after = await counts()
    expect({evt: after.evt, dlq: after.dlq}).toEqual({evt: before.evt, dlq: before.dlq})
    expect(await streamMessages(site.conn, STREAMS.cmd)).toBe(cmdBefore)
    const jsm = await site.conn.jsm()
    const stored = await jsm.streams
      .getMessage(KV_STREAM, {last_by_subj: `$KV.${DLQ_LEDGER_BUCKET}.forged`})
      .catch(() => null)
    expect(stored).toBeNull()
  })

  it('--to must be a command subject', async () => {
    for (const to of ['$KV.dv_dlq_ledger.x', 'dv.maskin.evt.server.provisioned', '_INBOX.abc']) {
      const r = await cli('dlq', 'replay', realRef, '--force', '--yes', '--to', to)
      expect(r.exitCode, to).toBe(2)
      expect(r.stderr).toContain('(a command subject)')
    }
  })
})
