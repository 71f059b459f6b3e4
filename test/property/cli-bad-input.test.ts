// Bad input given to the CLI itself (issue 9, item 3): generated garbage as `contract validate` input,
// `publish` subjects and payloads, layout files and config files. Every case must end with exit 2, a clear
// message (never a stack or "Unexpected error"), and nothing sent to NATS or written to disk. A handful of
// generated cases per input keeps this within the CI budget; the exhaustive runs are on the pure functions
// (decode.property.test.ts).
import {mkdtemp, readdir, readFile, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import fc from 'fast-check'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {ValidateResult} from '../../src/lib/contract/validate.js'
import type {CliResult} from '../helpers/cli.js'
import {runCommand} from '../helpers/run.js'
import {natsFixture, type NatsServerHandle} from '../helpers/nats.js'

const SEED = 20261127
const enc = new TextEncoder()

/** Generated garbage: random bytes, invalid UTF-8, random text, JSON that is not an envelope. */
function garbage(count: number): Uint8Array[] {
  return fc.sample(
    fc.oneof(
      fc.uint8Array({minLength: 1, maxLength: 200}),
      fc
        .tuple(fc.string({maxLength: 20}), fc.constantFrom([0xff], [0xc0, 0xaf], [0xed, 0xa0, 0x80]))
        .map(([s, bad]) => Uint8Array.from([...enc.encode(s), ...bad])),
      fc.string({minLength: 1, maxLength: 100}).map((s) => enc.encode(s)),
      fc.jsonValue({maxDepth: 4}).map((v) => enc.encode(JSON.stringify(v))),
    ),
    {numRuns: count, seed: SEED},
  )
}

const deep = (n: number) => enc.encode('['.repeat(n) + ']'.repeat(n))
const deepEnvelope = (n: number) =>
  enc.encode(
    JSON.stringify({
      specversion: '1.0',
      id: 'x',
      type: 'maskin.server.provision.requested',
      source: 'sentral',
      time: '2026-01-01T00:00:00Z',
      actor: 'a',
      correlation_id: 'c',
      data: {},
    }).replace('"data":{}', `"data":{"x":${'['.repeat(n)}${']'.repeat(n)}}`),
  )

/** The common promise of every bad-input case: a usage error, said plainly. */
function expectUsageError(r: CliResult, what: string) {
  expect(r.exitCode, `${what}: exit ${r.exitCode}\n${r.stdout}\n${r.stderr}`).toBe(2)
  const text = r.stdout + r.stderr
  expect(text, what).not.toMatch(/Unexpected error|This is a bug|\n\s+at .+:\d+:\d+/)
}

async function inBatches<T>(items: T[], size: number, run: (item: T, index: number) => Promise<void>) {
  for (let i = 0; i < items.length; i += size) {
    await Promise.all(items.slice(i, i + size).map((item, j) => run(item, i + j)))
  }
}

let dir: string
let server: NatsServerHandle

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dvctl-bad-input-'))
  server = await natsFixture({name: 'osl1', layout: true})
})
afterAll(async () => {
  await server?.dispose()
  await rm(dir, {recursive: true, force: true})
})

async function streamCounts(): Promise<Record<string, number>> {
  const {connectSite} = await import('../../src/lib/nats/connection.js')
  const conn = await connectSite({name: 'osl1', servers: [server.url]}, {timeoutMs: 5000})
  try {
    const jsm = await conn.jsm()
    const counts: Record<string, number> = {}
    for await (const info of jsm.streams.list()) counts[info.config.name] = info.state.messages
    return counts
  } finally {
    await conn.close()
  }
}

describe('contract validate', () => {
  it('exits 2 with a problem per document for generated garbage, invalid UTF-8 and deep nesting', async () => {
    // One NDJSON file of many generated bad documents, plus the inputs that break whole-file parsing.
    const lines = garbage(60).map((b) => Buffer.from(b).toString('utf8').replace(/\n/g, ' '))
    const inputs: Uint8Array[] = [
      enc.encode(lines.join('\n')),
      Uint8Array.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]),
      deep(50_000),
      deepEnvelope(20_000),
    ]
    await inBatches(inputs, 2, async (bytes, i) => {
      const file = join(dir, `validate-${i}.json`)
      await writeFile(file, bytes)
      const r = await runCommand(['contract', 'validate', file, '--json'])
      expectUsageError(r, `input ${i}: ${Buffer.from(bytes.slice(0, 60)).toString('hex')}`)
      const out = r.json()
      if (out.error) {
        // The whole input is unusable (empty, unreadable): one error naming the code and a hint.
        expect(out.error.exitCode).toBe(2)
        expect(out.error.hint).toBeTruthy()
      } else {
        const result = ValidateResult.parse(out)
        expect(result.valid).toBe(false)
        for (const item of result.results.filter((x) => !x.valid)) expect(item.problems.length).toBeGreaterThan(0)
      }
    })
  }, 240_000)

  it('reads garbage from stdin the same way', async () => {
    const r = await runCommand(['contract', 'validate', '-', '--json'], {
      input: '{"specversion": 7}\n\u0000\u0001garbage\n',
    })
    expectUsageError(r, 'stdin')
    expect(ValidateResult.parse(r.json()).results.length).toBeGreaterThan(0)
  }, 240_000)
})

describe('publish', () => {
  it('refuses bad subjects, reserved namespaces and bad payloads with exit 2 and sends nothing', async () => {
    const before = await streamCounts()
    const {connect} = await import('@nats-io/transport-node')
    // Core subscribers on the reserved subjects that a broken publish would reach.
    const spy = await connect({servers: server.url})
    const seen: string[] = []
    for (const s of ['$KV.>', '_INBOX.>', 'dv.>', '$SYS.>']) {
      spy.subscribe(s, {callback: (_e, m) => void seen.push(m.subject)})
    }
    const jsApi: string[] = []
    spy.subscribe('$JS.API.STREAM.DELETE.>', {callback: (_e, m) => void jsApi.push(m.subject)})
    await spy.flush()

    const badSubjects = [
      '$JS.API.STREAM.DELETE.DV_CMD',
      '$KV.dv_dlq_ledger.DV_CMD.1',
      '$SYS.REQ.SERVER.PING',
      '_INBOX.abc',
      'dv.maskin.cmd.>',
      'dv.nosuch.cmd.provision',
      ...fc.sample(fc.string({minLength: 1, maxLength: 30}), {numRuns: 2, seed: SEED}).map((s) => `dv.${s}`),
    ]
    const payload = '{"server_id":"srv-1","profile":"small"}'
    const cases: Array<{args: string[]; input?: string; what: string}> = badSubjects.map((s) => ({
      args: ['publish', s, '--data', payload],
      what: `subject ${s}`,
    }))
    const dataFile = async (name: string, bytes: Uint8Array) => {
      const file = join(dir, name)
      await writeFile(file, bytes)
      return file
    }
    const subject = 'dv.maskin.cmd.provision'
    cases.push(
      {args: ['publish', subject, '--data', '{not json'], what: 'not JSON'},
      {args: ['publish', subject, '--data', '[1,2]'], what: 'array payload'},
      {args: ['publish', subject, '--data', '-'], input: '\u0000\u0001\u0002', what: 'binary on stdin'},
      {
        args: ['publish', subject, '--data-file', await dataFile('bad-utf8.json', Uint8Array.from([0x7b, 0xff, 0x7d]))],
        what: 'invalid UTF-8',
      },
      {
        args: [
          'publish',
          subject,
          '--data-file',
          await dataFile('deep.json', enc.encode(`{"x":${'['.repeat(50_000)}${']'.repeat(50_000)}}`)),
        ],
        what: 'deeply nested',
      },
      {
        args: [
          'publish',
          subject,
          '--data-file',
          await dataFile(
            'huge.json',
            enc.encode(JSON.stringify({server_id: 'a', profile: 'small', blob: 'x'.repeat(2 * 1024 * 1024)})),
          ),
        ],
        what: 'over max_payload',
      },
      {args: ['publish', subject, '--data', payload, '--source', 'nosuch'], what: 'unknown source'},
      {args: ['publish', subject, '--data', payload, '--timeout', ''], what: 'empty timeout'},
    )
    await inBatches(cases, 5, async (c) => {
      const r = await runCommand([...c.args, '--server', server.url, '--json'], {input: c.input})
      expectUsageError(r, c.what)
      expect(r.json().error, c.what).toBeDefined()
    })
    await spy.flush()
    await spy.close()
    expect(seen).toEqual([])
    expect(jsApi).toEqual([])
    expect(await streamCounts()).toEqual(before)
  }, 240_000)

  it('dlq replay --to refuses reserved namespaces before anything is read or sent', async () => {
    await inBatches(
      ['$JS.API.STREAM.PURGE.DV_CMD', '$SYS.REQ.ACCOUNT.PING', '$KV.dv_dlq_ledger.x', '_INBOX.x'],
      4,
      async (to) => {
        const r = await runCommand(['dlq', 'replay', 'DV_CMD:1', '--to', to, '--yes', '--server', server.url, '--json'])
        expectUsageError(r, `--to ${to}`)
        expect(r.json().error.message).toContain(to)
      },
    )
  }, 240_000)
})

describe('layout files', () => {
  it('rejects generated garbage and broken YAML with exit 2 and changes nothing on the server', async () => {
    const before = await streamCounts()
    const files: Array<[string, Uint8Array | string]> = [
      ...garbage(2).map((b, i): [string, Uint8Array] => [`garbage-${i}.yaml`, b]),
      ['alias.yaml', 'streams:\n  X: *nowhere\n'],
      ['unknown-key.yaml', 'streams:\n  BAD:\n    subjects: ["bad.>"]\n    retension: limits\n'],
      ['bad-duration.yaml', 'streams:\n  BAD:\n    subjects: ["bad.>"]\n    max_age: forever\n'],
      ['deep.json', deep(50_000)],
      ['tabs.yaml', 'streams:\n\tBAD: {}\n'],
    ]
    await inBatches(files, 4, async ([name, content], i) => {
      const file = join(dir, name)
      await writeFile(file, content)
      const validate = await runCommand(['layout', 'validate', file, '--json'])
      // Generated JSON can happen to be a valid (empty) layout: only then is exit 0 acceptable.
      if (validate.exitCode === 0) return
      expectUsageError(validate, `layout validate ${name}`)
      // Refused before the YAML library builds it (it would recurse level by level until the stack ran out).
      if (name === 'deep.json')
        expect(validate.json().problems).toEqual([
          {path: 'line 1, column 65', message: 'Collections nested deeper than 64 levels'},
        ])
      if (i % 2) return // apply (which connects) on every other file keeps the run short
      const apply = await runCommand(['layout', 'apply', file, '--yes', '--server', server.url, '--json'])
      expectUsageError(apply, `layout apply ${name}`)
      expect(apply.json().error.message).toContain(name)
    })
    expect(await streamCounts()).toEqual(before)
  }, 240_000)
})

describe('config files', () => {
  it('rejects a broken config with exit 2 naming the file, and site add leaves it byte for byte as it was', async () => {
    const contents: Array<Uint8Array | string> = [
      ...garbage(2),
      'sites:\n  osl1: *nowhere\n',
      'sites:\n  osl1:\n    servers: [nats://a:4222]\n    password: hunter2\n',
      'default_site: 7\nsites: []\n',
      deep(20_000),
    ]
    await inBatches(contents, 4, async (content, i) => {
      const file = join(dir, `config-${i}.yaml`)
      await writeFile(file, content)
      const original = await readFile(file)
      const env = {DVCTL_CONFIG: file}
      const list = await runCommand(['site', 'list', '--json'], {env})
      if (list.exitCode === 0) return // generated text that happens to be a valid (empty) config
      expectUsageError(list, `site list with config ${i}`)
      expect(list.json().error.message).toContain(file)
      if (i === contents.length - 1) expect(list.json().error.message).toContain('nested deeper than 64 levels')
      const add = await runCommand(['site', 'add', 'trd1', '--server', 'nats://127.0.0.1:4222', '--json'], {env})
      expectUsageError(add, `site add with config ${i}`)
      expect(await readFile(file)).toEqual(original)
    })
    // No temporary file left behind by a refused write.
    expect((await readdir(dir)).filter((f) => f.includes('.tmp'))).toEqual([])
  }, 240_000)
})
