// Issue 16, part 1: dead letters keep their originals. `dlq capture` copies each dead letter's original
// into DV_DLQ_ARCHIVE before it acknowledges the advisory; once DV_CMD has aged the original out, `dlq show`
// still shows it in full and `dlq replay` sends a byte-identical copy; a restarted capture does not copy
// twice; `dlq list` archives what it read; `doctor` reports a site whose originals are at risk.
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {DoctorResult} from '../../src/lib/doctor/check.js'
import {archiveSubject} from '../../src/lib/dlq/archive.js'
import {HEARTBEAT_PREFIX, runCapture} from '../../src/lib/dlq/capture.js'
import {DlqListResult, DlqReplayResult, DlqShowResult} from '../../src/lib/dlq/model.js'
import {PendingDeadLetters} from '../../src/lib/dlq/pending.js'
import {readAdvisories} from '../../src/lib/dlq/read.js'
import {DLQ_ARCHIVE_STREAM, DLQ_CAPTURE_CONSUMER, DLQ_RUNTIME_BUCKET, STREAMS} from '../../src/lib/layout/names.js'
import {connectSite} from '../../src/lib/nats/connection.js'
import {supportsMessageTtl} from '../../src/lib/nats/server-version.js'
import {createWorkerConsumer} from '../../src/lib/sandbox/workers/consumer.js'
import {startWorker, type Worker} from '../../src/lib/sandbox/workers/worker.js'
import {runCommand} from '../helpers/run.js'
import {waitFor} from '../helpers/wait.js'
import {command, type DlqSite, startDlqSite} from './dlq-fixture.js'

/** The refs a health tracker counts as pending now. */
const pendingRefs = (t: PendingDeadLetters) => t.summary(new Date()).recent.map((l) => l.ref)

describe('dlq capture and the dead-letter archive', {timeout: 120_000}, () => {
  let site: DlqSite
  let worker: Worker
  let consumer: string
  const cli = (...args: string[]) => runCommand([...args, '--server', site.server.url])
  const jsm = () => site.conn.jsm()

  /** Publishes a command with extra headers; the worker terminates it: a dead letter. */
  async function deadLetter(extraHeader: string): Promise<{seq: number; data: Uint8Array}> {
    const {headers} = await import('@nats-io/transport-node')
    const envelope = command('maskin.server.provision.requested')
    const data = new TextEncoder().encode(JSON.stringify(envelope))
    const h = headers()
    h.set('X-Trace', extraHeader)
    const ack = await (
      await site.conn.js()
    ).publish('dv.maskin.cmd.provision', data, {
      msgID: String(envelope.id),
      headers: h,
    })
    // Read without `dlq list`, which would archive it.
    const ref = `DV_CMD:${ack.seq}`
    await waitFor(async () => ((await readAdvisories(site.conn, {refs: new Set([ref])})).get(ref) ? true : undefined), {
      what: `the advisory of ${ref}`,
    })
    return {seq: ack.seq, data}
  }

  async function archived(seq: number) {
    return (await jsm()).streams
      .getMessage(DLQ_ARCHIVE_STREAM, {last_by_subj: archiveSubject('DV_CMD', seq)})
      .catch(() => null)
  }

  /** Runs `dlq capture` in this process until `stop` is aborted; resolves with its exit code and NDJSON events. */
  function startCapture(...args: string[]) {
    const stop = new AbortController()
    const done = runCommand(['dlq', 'capture', '--json', '--heartbeat', '1s', ...args, '--server', site.server.url], {
      signal: stop.signal,
    })
    return {
      stop: async () => {
        stop.abort()
        return done
      },
    }
  }

  beforeAll(async () => {
    site = await startDlqSite()
    consumer = await createWorkerConsumer(site.conn, {service: 'maskin', maxDeliver: 2, ackWaitMs: 1000})
    worker = await startWorker(site.conn, {
      service: 'maskin',
      consumer,
      progressSteps: 0,
      behaviour: {fail: {code: 'quota-exceeded', message: 'no quota left'}},
    })
  })
  afterAll(async () => {
    await worker?.stop()
    await site?.dispose()
  })

  it('without a capture process, doctor reports the originals at risk (exit 10)', async () => {
    const r = await cli('doctor', '--json')
    expect(r.exitCode).toBe(10)
    const [row] = DoctorResult.parse(r.json()).sites
    expect(row.problems.map((p) => p.code)).toEqual(['dlq-originals-at-risk'])
    expect(row.problems[0].message).toMatch(/DV_CMD .* keeps commands for 14d .* DV_DLQ keeps dead letters for 30d/)
    expect(row.dlq_archive).toEqual({
      present: true,
      capture_running: false,
      last_heartbeat: null,
      originals_at_risk: true,
    })
  })

  it('dlq list archives the originals it read, once', async () => {
    const {seq, data} = await deadLetter('listed')
    expect(await archived(seq)).toBeNull()
    const first = DlqListResult.parse((await cli('dlq', 'list', '--json')).json())
    expect(first.archived).toBe(1)
    // What is stored is the original, byte for byte, with its headers.
    const copy = (await archived(seq))!
    expect(Buffer.from(copy.data).equals(Buffer.from(data))).toBe(true)
    expect(copy.header?.get('Dv-Archive-By')).toBe('list')
    expect(JSON.parse(copy.header!.get('Dv-Archive-Headers'))).toMatchObject({'X-Trace': ['listed']})
    const again = DlqListResult.parse((await cli('dlq', 'list', '--status', 'all', '--json')).json())
    expect(again.archived).toBe(0)
    expect((await (await jsm()).streams.info(DLQ_ARCHIVE_STREAM)).state.last_seq).toBe(copy.seq)
  })

  it('a tracker that read the original keeps the letter pending when only the archive has it, as a new one does', async () => {
    // metrics serve and top track dead letters for days; DV_CMD keeps commands for less time than DV_DLQ.
    const {seq} = await deadLetter('tracked')
    const ref = `DV_CMD:${seq}`
    const tracker = new PendingDeadLetters(site.conn)
    await tracker.refresh()
    expect(pendingRefs(tracker)).toContain(ref)
    expect((await cli('dlq', 'list', '--json')).exitCode).toBe(0)
    expect(await archived(seq)).not.toBeNull()
    // A second one that nothing archives.
    const lost = await deadLetter('not archived')
    const lostRef = `DV_CMD:${lost.seq}`
    await tracker.refresh()
    expect(pendingRefs(tracker)).toContain(lostRef)
    // DV_CMD loses both (purged up to and including them): the archive still has the first, byte for byte.
    await (await jsm()).streams.purge(STREAMS.cmd, {seq: lost.seq + 1})
    await tracker.refresh()
    const fresh = new PendingDeadLetters(site.conn)
    await fresh.refresh()
    for (const t of [fresh, tracker]) {
      expect(pendingRefs(t)).toContain(ref)
      expect(pendingRefs(t)).not.toContain(lostRef)
    }
    const list = DlqListResult.parse((await cli('dlq', 'list', '--status', 'all', '--json')).json())
    expect(list.dead_letters.find((l) => l.ref === ref)).toMatchObject({status: 'pending', original_source: 'archive'})
    expect(list.dead_letters.find((l) => l.ref === lostRef)?.status).toBe('missing')
  })

  it('a tracker notices an original deleted from the middle of DV_CMD, as dlq list does', async () => {
    await deadLetter('before it')
    const {seq} = await deadLetter('deleted from the middle')
    await deadLetter('after it')
    const ref = `DV_CMD:${seq}`
    const tracker = new PendingDeadLetters(site.conn)
    await tracker.refresh()
    expect(pendingRefs(tracker)).toContain(ref)
    await (await jsm()).streams.deleteMessage(STREAMS.cmd, seq)
    await tracker.refresh()
    expect(pendingRefs(tracker)).not.toContain(ref)
    const list = DlqListResult.parse((await cli('dlq', 'list', '--status', 'all', '--json')).json())
    expect(list.dead_letters.find((l) => l.ref === ref)?.status).toBe('missing')
  })

  it('labels an advisory of 0 deliveries as never delivered, not as a worker failure', async () => {
    // A nett command: no nett worker runs, so only the advisory below makes it a dead letter.
    const envelope = command('nett.apply.requested')
    const js = await site.conn.js()
    const ack = await js.publish('dv.nett.cmd.apply', JSON.stringify(envelope), {msgID: String(envelope.id)})
    // What nats-server sends when it drops pending messages: MAX_DELIVERIES with deliveries 0.
    const advisory = {
      type: 'io.nats.jetstream.advisory.v1.max_deliver',
      id: 'x',
      timestamp: new Date().toISOString(),
      stream: STREAMS.cmd,
      consumer: 'nett',
      stream_seq: ack.seq,
      deliveries: 0,
    }
    await js.publish(`$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.${STREAMS.cmd}.nett`, JSON.stringify(advisory))
    const letter = await waitFor(
      async () => {
        const list = DlqListResult.parse((await cli('dlq', 'list', '--json')).json())
        return list.dead_letters.find((l) => l.seq === ack.seq)
      },
      {what: 'the never-delivered dead letter'},
    )
    expect(letter).toMatchObject({status: 'pending', deliveries: 0, never_delivered: true, failure: null})
    const text = await cli('dlq', 'list', '--wide')
    expect(text.stdout).toMatch(new RegExp(`DV_CMD:${ack.seq}\\b.*never delivered`))
    const show = await cli('dlq', 'show', `DV_CMD:${ack.seq}`)
    expect(show.stdout).toContain('not a worker failure')
    await cli('dlq', 'discard', `DV_CMD:${ack.seq}`, '--reason', 'test', '--yes')
  })

  it('capture archives before it acknowledges; an aged-out original is shown and replayed byte for byte', async () => {
    const capture = startCapture('--handled-ttl', '1h')
    const {seq, data} = await deadLetter('captured')
    const copy = await waitFor(async () => (await archived(seq)) ?? undefined, {what: 'the archived copy'})
    expect(Buffer.from(copy.data).equals(Buffer.from(data))).toBe(true)
    expect(copy.header?.get('Dv-Archive-By')).toBe('capture')

    // A capture heartbeat is fresh: doctor no longer reports the originals at risk.
    await waitFor(
      async () => {
        const d = DoctorResult.parse((await cli('doctor', '--json')).json())
        return d.sites[0].dlq_archive?.capture_running ? d : undefined
      },
      {what: 'a fresh capture heartbeat'},
    )
    const healthy = await cli('doctor', '--json')
    expect(DoctorResult.parse(healthy.json()).sites[0].problems).toEqual([])

    // DV_CMD's max age cut to a few seconds: the original ages out of DV_CMD.
    const m = await jsm()
    const config = (await m.streams.info(STREAMS.cmd)).config
    await m.streams.update(STREAMS.cmd, {...config, max_age: 2_000_000_000, duplicate_window: 1_000_000_000})
    await waitFor(
      async () => ((await m.streams.getMessage(STREAMS.cmd, {seq}).catch(() => null)) === null ? true : undefined),
      {what: 'the original aging out of DV_CMD', timeoutMs: 30_000},
    )
    await m.streams.update(STREAMS.cmd, config)
    await worker.stop()

    const show = DlqShowResult.parse((await cli('dlq', 'show', `DV_CMD:${seq}`, '--json')).json())
    expect(show.dead_letter).toMatchObject({
      status: 'pending',
      original_source: 'archive',
      subject: 'dv.maskin.cmd.provision',
    })
    expect(show.envelope).toEqual(JSON.parse(new TextDecoder().decode(data)))
    expect(show.headers['X-Trace']).toEqual(['captured'])
    const text = await cli('dlq', 'show', `DV_CMD:${seq}`)
    expect(text.stdout).toContain(`from ${DLQ_ARCHIVE_STREAM}`)

    const replay = await cli('dlq', 'replay', `DV_CMD:${seq}`, '--yes', '--reason', 'fixed', '--json')
    expect(replay.exitCode, replay.stderr).toBe(0)
    const [sent] = DlqReplayResult.parse(replay.json()).replayed
    const replayed = (await m.streams.getMessage(STREAMS.cmd, {seq: sent.new_seq}))!
    expect(Buffer.from(replayed.data).equals(Buffer.from(data))).toBe(true)
    expect(replayed.header?.get('X-Trace')).toBe('captured')
    expect(replayed.header?.get('Dv-Replay-Of')).toBe(`DV_CMD:${seq}`)

    // --edit starts from the archived original too.
    const edited = await runCommand(
      ['dlq', 'replay', `DV_CMD:${seq}`, '--edit', '--force', '--yes', '--json', '--server', site.server.url],
      {env: {EDITOR: 'sed -i s/web-1/web-2/', VISUAL: ''}},
    )
    expect(edited.exitCode, edited.stderr).toBe(0)
    const [editedSent] = DlqReplayResult.parse(edited.json()).replayed
    const editedCopy = (await m.streams.getMessage(STREAMS.cmd, {seq: editedSent.new_seq}))!
    const original = JSON.parse(new TextDecoder().decode(data)) as Record<string, unknown>
    expect(editedCopy.json<Record<string, unknown>>()).toMatchObject({
      causation_id: original.id,
      data: {hostname: 'web-2'},
    })

    // Handled: on 2.11+ its copy is written again with a per-message TTL; a 2.9 server has none.
    const version = (await site.conn.identity()).serverVersion ?? ''
    if (supportsMessageTtl(version)) {
      const handled = await waitFor(
        async () => {
          const c = await archived(seq)
          return c?.header?.get('Dv-Archive-State') === 'handled' ? c : undefined
        },
        {what: 'the handled copy'},
      )
      expect(handled.header?.get('Nats-TTL')).toBe('3600s')
      expect(Buffer.from(handled.data).equals(Buffer.from(data))).toBe(true)
    }
    const result = await capture.stop()
    expect(result.exitCode, result.stderr).toBe(0)
    const events = result.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as {kind: string; ttl_unavailable?: string})
    expect(events[0].kind).toBe('started')
    if (!supportsMessageTtl(version)) expect(events[0].ttl_unavailable).toMatch(/no per-message TTL/)
    expect(events.at(-1)?.kind).toBe('stopped')
  })

  it('has stored its first heartbeat when it says it started (what sandbox up waits for, and doctor reads)', async () => {
    // On one connection the server hands a published message to the connection's subscribers before it
    // acknowledges the publish: a heartbeat whose put was acknowledged has been counted here.
    const conn = await connectSite({name: 'capture-start', servers: [site.server.url]}, {timeoutMs: 5000})
    let heartbeats = 0
    const sub = conn.nc.subscribe(`$KV.${DLQ_RUNTIME_BUCKET}.${HEARTBEAT_PREFIX}.>`, {
      callback: () => void heartbeats++,
    })
    await conn.nc.flush()
    const stop = new AbortController()
    const atStart: number[] = []
    try {
      await runCapture(conn, {
        signal: stop.signal,
        heartbeatMs: 60_000,
        onEvent: (event) => {
          if (event.kind !== 'started') return
          atStart.push(heartbeats)
          stop.abort()
        },
      })
    } finally {
      sub.unsubscribe()
      await conn.close()
    }
    expect(atStart).toEqual([1])
  })

  it('a capture restarted from the first advisory copies nothing twice', async () => {
    const m = await jsm()
    const before = (await m.streams.info(DLQ_ARCHIVE_STREAM)).state
    // The consumer recreated by the layout: every advisory is delivered again, as after a crash before the acks.
    await m.consumers.delete(STREAMS.dlq, DLQ_CAPTURE_CONSUMER)
    expect((await cli('layout', 'apply', '--yes')).exitCode).toBe(0)
    const r = await cli('dlq', 'capture', '--once', '--json')
    expect(r.exitCode, r.stderr).toBe(0)
    const events = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as {kind: string; archived?: number})
    expect(events.filter((e) => e.kind === 'archived')).toEqual([])
    expect(events.filter((e) => e.kind === 'already-archived').length).toBeGreaterThanOrEqual(2)
    const after = (await m.streams.info(DLQ_ARCHIVE_STREAM)).state
    expect({last: after.last_seq, messages: after.messages}).toEqual({last: before.last_seq, messages: before.messages})
  })

  it('without the archive, capture names what is missing (exit 5) and list warns', async () => {
    const m = await jsm()
    await m.streams.delete(DLQ_ARCHIVE_STREAM)
    const r = await cli('dlq', 'capture', '--once')
    expect(r.exitCode).toBe(5)
    expect(r.stderr).toContain(`stream ${DLQ_ARCHIVE_STREAM}`)
    expect(r.stderr).toContain('dvctl layout apply')
    const list = await cli('dlq', 'list', '--status', 'all')
    expect(list.exitCode).toBe(0)
    expect(list.stderr).toContain(`no ${DLQ_ARCHIVE_STREAM} stream`)
  })
})

/**
 * One rule for "is this dead letter handled?" (outcome.ts isHandled): a letter whose last replay failed again
 * (`replay_failed`) is pending. Its archived copy, marked handled with a TTL while its replay had no outcome yet
 * (2.11+), is written again as pending without a TTL once capture sees the replay fail; a 2.9 server has no TTL
 * at all and capture sets none. The health snapshot counts the letter as pending.
 */
describe('a dead letter whose replay failed again is still pending', {timeout: 120_000}, () => {
  let site: DlqSite
  let consumer: string
  let worker: Worker | undefined
  const failing = () =>
    startWorker(site.conn, {
      service: 'maskin',
      consumer,
      progressSteps: 0,
      behaviour: {fail: {code: 'quota-exceeded', message: 'no quota left'}},
    })

  beforeAll(async () => {
    site = await startDlqSite()
    consumer = await createWorkerConsumer(site.conn, {service: 'maskin', maxDeliver: 1, ackWaitMs: 1000})
  })
  afterAll(async () => {
    await worker?.stop()
    await site?.dispose()
  })

  it('keeps its archived copy without a TTL and counts it as pending', async () => {
    const cli = (...args: string[]) => runCommand([...args, '--server', site.server.url])
    const stop = new AbortController()
    const capture = runCommand(
      ['dlq', 'capture', '--json', '--heartbeat', '1s', '--handled-ttl', '1h', '--server', site.server.url],
      {signal: stop.signal},
    )
    const jsm = await site.conn.jsm()
    const archived = (seq: number) =>
      jsm.streams.getMessage(DLQ_ARCHIVE_STREAM, {last_by_subj: archiveSubject('DV_CMD', seq)}).catch(() => null)
    worker = await failing()
    const envelope = command('maskin.server.provision.requested')
    const ack = await (await site.conn.js()).publish('dv.maskin.cmd.provision', JSON.stringify(envelope))
    const ref = `DV_CMD:${ack.seq}`
    await waitFor(async () => (await archived(ack.seq)) ?? undefined, {what: 'the archived copy'})
    await worker.stop()

    // Replayed while no worker takes the copy: handled (outcome pending), with the TTL on 2.11+.
    const replay = await cli('dlq', 'replay', ref, '--yes', '--json')
    expect(replay.exitCode, replay.stderr).toBe(0)
    const [sent] = DlqReplayResult.parse(replay.json()).replayed
    const version = (await site.conn.identity()).serverVersion ?? ''
    if (supportsMessageTtl(version)) {
      const handled = await waitFor(
        async () => {
          const c = await archived(ack.seq)
          return c?.header?.get('Dv-Archive-State') === 'handled' ? c : undefined
        },
        {what: 'the copy marked handled'},
      )
      expect(handled.header?.get('Nats-TTL')).toBe('3600s')
    }

    // The worker fails the copy as well: the letter is replay_failed, so pending again.
    worker = await failing()
    await waitFor(
      async () => {
        const list = DlqListResult.parse((await cli('dlq', 'list', '--status', 'replay_failed', '--json')).json())
        return list.dead_letters.some((l) => l.ref === ref) ? true : undefined
      },
      {what: `${ref} replay_failed`},
    )
    if (supportsMessageTtl(version)) {
      await waitFor(
        async () => {
          const c = await archived(ack.seq)
          return c?.header?.get('Nats-Msg-Id')?.endsWith(`.pending.${sent.replay_id}`) ? true : undefined
        },
        {what: 'the copy written again as pending', timeoutMs: 20_000},
      )
    }
    const copy = (await archived(ack.seq))!
    expect(copy.header?.get('Dv-Archive-State')).toBe('pending')
    expect(copy.header?.get('Nats-TTL') ?? '').toBe('')

    const tracker = new PendingDeadLetters(site.conn)
    await tracker.refresh()
    expect(pendingRefs(tracker)).toContain(ref)

    stop.abort()
    const result = await capture
    expect(result.exitCode, result.stderr).toBe(0)
    const events = result.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as {kind: string; ref?: string; ttl_unavailable?: string | null})
    if (supportsMessageTtl(version)) {
      expect(events.filter((e) => e.ref === ref).map((e) => e.kind)).toEqual(['archived', 'expiring', 'kept'])
    } else {
      // No per-message TTL: none is attempted, and the copy simply stays.
      expect(events[0].ttl_unavailable).toMatch(/no per-message TTL/)
      expect(events.filter((e) => e.kind === 'expiring' || e.kind === 'kept')).toEqual([])
    }
  })
})
