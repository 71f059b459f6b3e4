import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {DlqListResult} from '../../src/lib/dlq/model.js'
import {displayWidth} from '../../src/lib/render/table.js'
import {createWorkerConsumer} from '../../src/lib/sandbox/workers/consumer.js'
import {startWorker, type Worker} from '../../src/lib/sandbox/workers/worker.js'
import {runCommand} from '../helpers/run.js'
import {command, type DlqSite, eventually, publishCommand, startDlqSite} from './dlq-fixture.js'

/** A worker's failure as long as real ones get: a code, then a sentence or three of what went wrong. */
const failureOf = (n: number) =>
  `hypervisor osl1-hv-0${n} refused the allocation: requested 64 vCPU and 512 GiB but the host pool ` +
  `"general-purpose" has 12 vCPU free after reservations; retry on another pool or raise the quota (case ${n})`

describe('tables that fit the terminal (dlq list, doctor)', {timeout: 180_000}, () => {
  let site: DlqSite
  let worker: Worker
  const commands: Array<Record<string, unknown>> = []
  const cli = (args: string[], tty?: {columns: number}) =>
    runCommand([...args, '--server', site.server.url], tty ? {tty} : {})

  beforeAll(async () => {
    site = await startDlqSite()
    const consumer = await createWorkerConsumer(site.conn, {service: 'maskin', maxDeliver: 3, ackWaitMs: 1000})
    worker = await startWorker(site.conn, {
      service: 'maskin',
      consumer,
      progressSteps: 0,
      behaviour: (c) => ({
        fail: {code: 'capacity-exhausted', message: failureOf(commands.findIndex((x) => x.id === c.envelope.id))},
      }),
    })
    for (let i = 0; i < 3; i++) commands.push(command('maskin.server.provision.requested'))
    for (const c of commands) await publishCommand(site.conn, 'dv.maskin.cmd.provision', c)
    await eventually(async () => {
      const r = await cli(['dlq', 'list', '--json'])
      const listed = r.exitCode === 0 ? DlqListResult.parse(r.json()).dead_letters : []
      return listed.length === 3 && listed.every((l) => l.failure) ? true : undefined
    })
  })
  afterAll(async () => {
    await worker?.stop()
    await site?.dispose()
  })

  it('dlq list at 80 columns: one line per row within 80 columns, no separators, correlation prefixes', async () => {
    const r = await cli(['dlq', 'list'], {columns: 80})
    expect(r.exitCode, r.stderr).toBe(0)
    const lines = r.stdout.trimEnd().split('\n')
    expect(lines).toHaveLength(1 + commands.length)
    for (const line of lines) expect(displayWidth(line), line).toBeLessThanOrEqual(80)
    expect(lines[0].split(/\s+/)).toEqual(['ref', 'age', 'reason', 'correlation', 'failure', 'status'])
    for (const c of commands) {
      const correlation = String(c.correlation_id)
      const row = lines.find((l) => l.includes(correlation.slice(0, 10)))
      expect(row, `a row with the correlation prefix ${correlation.slice(0, 10)}`).toBeDefined()
      expect(row).not.toContain(correlation)
      expect(row).toMatch(/^DV_CMD:\d+ /)
      expect(row).toContain('capacity-exhausted: hyp')
      expect(row).toContain('…')
      expect(row).toMatch(/pending$/)
    }
    expect(r.stderr).toContain('3 dead letter(s)')
  })

  it('dlq list --wide shows every column and every cell whole', async () => {
    const r = await cli(['dlq', 'list', '--wide'], {columns: 80})
    expect(r.exitCode, r.stderr).toBe(0)
    const lines = r.stdout.trimEnd().split('\n')
    expect(lines).toHaveLength(1 + commands.length)
    expect(lines[0].split(/\s+/)).toEqual([
      'ref',
      'age',
      'consumer',
      'reason',
      'deliveries',
      'type',
      'tenant',
      'correlation',
      'failure',
      'status',
    ])
    for (const [n, c] of commands.entries()) {
      const row = lines.find((l) => l.includes(String(c.correlation_id)))
      expect(row).toContain(`capacity-exhausted: ${failureOf(n)}`)
      expect(row).toContain('maskin.server.provision.requested')
    }
  })

  it('a wider terminal shows the optional columns that fit', async () => {
    const r = await cli(['dlq', 'list'], {columns: 120})
    const lines = r.stdout.trimEnd().split('\n')
    for (const line of lines) expect(displayWidth(line)).toBeLessThanOrEqual(120)
    expect(lines[0]).toContain('consumer')
    expect(lines[0]).toContain('deliveries')
  })

  it('piped, dlq list is every column, complete and tab-separated, without a header row, --wide or not', async () => {
    const piped = await cli(['dlq', 'list'])
    expect(piped.exitCode, piped.stderr).toBe(0)
    expect((await cli(['dlq', 'list', '--wide'])).stdout).toBe(piped.stdout)
    const rows = piped.stdout.trimEnd().split('\n')
    expect(rows).toHaveLength(commands.length)
    for (const row of rows) {
      const cells = row.split('\t')
      expect(cells).toHaveLength(10)
      expect(cells[0]).toMatch(/^DV_CMD:\d+$/)
    }
    for (const [n, c] of commands.entries()) {
      const row = rows.find((l) => l.includes(`\t${String(c.correlation_id)}\t`))
      expect(row?.split('\t')[8]).toBe(`capacity-exhausted: ${failureOf(n)}`)
    }
  })

  it('--limit and --sort cut and order the table and the JSON result alike', async () => {
    const table = await cli(['dlq', 'list', '--limit', '2'], {columns: 80})
    expect(table.exitCode, table.stderr).toBe(0)
    expect(table.stdout.trimEnd().split('\n')).toHaveLength(1 + 2)
    expect(table.stderr).toContain('2 of 3 dead letter(s)')

    const json = DlqListResult.parse((await cli(['dlq', 'list', '--limit', '2', '--json'])).json())
    expect(json.dead_letters).toHaveLength(2)
    expect(json.total).toBe(3)

    const all = DlqListResult.parse((await cli(['dlq', 'list', '--json'])).json()).dead_letters
    const bySeq = [...all].sort((a, b) => b.seq - a.seq).map((l) => l.ref)
    const sorted = DlqListResult.parse((await cli(['dlq', 'list', '--sort', '-ref', '--json'])).json())
    expect(sorted.dead_letters.map((l) => l.ref)).toEqual(bySeq)
    const piped = await cli(['dlq', 'list', '--sort', '-ref', '--limit', '1'])
    expect(
      piped.stdout
        .trimEnd()
        .split('\n')
        .map((l) => l.split('\t')[0]),
    ).toEqual([bySeq[0]])
  })

  it('--sort with an unknown field is a usage error (exit 2) naming the fields it takes', async () => {
    const r = await cli(['dlq', 'list', '--sort', 'bogus'])
    expect(r.exitCode).toBe(2)
    expect(r.stdout).toBe('')
    expect(r.stderr).toContain(
      'Cannot sort by "bogus": --sort takes one of ref, age, consumer, reason, deliveries, type, tenant, correlation, failure, status.',
    )
    const json = await cli(['dlq', 'list', '--sort', '-bogus', '--json'])
    expect(json.exitCode).toBe(2)
    expect(json.json()).toMatchObject({error: {code: 'bad-sort', exitCode: 2}})
  })

  it('doctor at 80 columns: its header and rows fit on one line each', async () => {
    const r = await cli(['doctor'], {columns: 80})
    expect(r.stderr).not.toContain('Error')
    const lines = r.stdout.split('\n')
    expect(lines[0].split(/\s+/).slice(0, 3)).toEqual(['site', 'up', 'jetstream'])
    expect(displayWidth(lines[0])).toBeLessThanOrEqual(80)
    // The site is named by its URL (--server), cut to fit.
    expect(lines[1]).toMatch(/^127\.0\.0\.1/)
    expect(displayWidth(lines[1])).toBeLessThanOrEqual(80)
    // The three pending dead letters are in the row, not on a line of their own.
    expect(lines[1]).toMatch(/ 3 /)
  })
})
