import {mkdir, mkdtemp, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {JsonSchemaExport, SchemaDetail, SchemaList} from '../../src/lib/contract/schemas.js'
import {SubjectAnalysis} from '../../src/lib/contract/subject-schema.js'
import {ValidateResult} from '../../src/lib/contract/validate.js'
import {runCommand} from '../helpers/run.js'
import {provisionCommand, VALID_EXAMPLES} from '../unit/contract/fixtures.js'

// The contract commands work offline: no NATS server is needed (runCommand points NATS_URL at a dead port).

const ErrorJson = {
  parse: (v: unknown) => {
    const e = (v as {error?: {code?: unknown; message?: unknown; exitCode?: unknown}}).error
    if (!e || typeof e.code !== 'string' || typeof e.message !== 'string')
      throw new Error(`not an error JSON: ${JSON.stringify(v)}`)
    return e as {code: string; message: string; exitCode: number; hint?: string}
  },
}

let dir: string
const good = provisionCommand()
const bad = provisionCommand({id: 'bad-1', time: '2026-03-14T10:30:00+01:00', correlation_id: undefined})
const ndjson = [good, bad, ...VALID_EXAMPLES.map((x) => x.envelope)].map((e) => JSON.stringify(e)).join('\n') + '\n'

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dvctl-contract-'))
  await writeFile(join(dir, 'good.json'), JSON.stringify(good, null, 2))
  await writeFile(join(dir, 'mixed.ndjson'), ndjson)
  await writeFile(
    join(dir, 'array.json'),
    JSON.stringify(
      VALID_EXAMPLES.map((x) => x.envelope),
      null,
      2,
    ),
  )
  await mkdir(join(dir, 'schemas'))
  await writeFile(
    join(dir, 'schemas', 'maskin.server.provision.requested.v2.json'),
    JSON.stringify({
      type: 'object',
      required: ['server_id', 'flavor'],
      properties: {flavor: {enum: ['small', 'large']}},
    }),
  )
  await mkdir(join(dir, 'badschemas'))
  await writeFile(join(dir, 'badschemas', 'maskin.server.provisioned.v2.json'), '{"type": ')
})
afterAll(async () => rm(dir, {recursive: true, force: true}))

describe('dvctl contract subject', () => {
  it('a valid subject: exit 0 and its parts', async () => {
    const r = await runCommand(['contract', 'subject', 'dv.maskin.evt.server.provisioned', '--json'])
    expect(r.exitCode).toBe(0)
    expect(SubjectAnalysis.parse(r.json())).toEqual({
      subject: 'dv.maskin.evt.server.provisioned',
      valid: true,
      family: 'evt',
      service: 'maskin',
      entity: 'server',
      verb: 'provisioned',
      problems: [],
      warnings: [],
    })
  })

  it('an invalid subject: exit 2, JSON still printed with each problem', async () => {
    const r = await runCommand(['contract', 'subject', 'dv.foo.cmd.Provision', '--json'])
    expect(r.exitCode).toBe(2)
    const a = SubjectAnalysis.parse(r.json())
    expect(a.valid).toBe(false)
    expect(a.problems.map((p) => p.code)).toEqual(['bad-token'])
    const r2 = await runCommand(['contract', 'subject', 'dv.foo.cmd.provision', '--json'])
    expect(r2.exitCode).toBe(2)
    expect(SubjectAnalysis.parse(r2.json()).problems.map((p) => p.code)).toEqual(['unknown-service'])
  })

  it('human output lists each problem with its code, and no stack', async () => {
    const r = await runCommand(['contract', 'subject', 'dv.task.cmd.run'])
    expect(r.exitCode).toBe(2)
    expect(r.stdout).toMatch(/^invalid dv\.task\.cmd\.run/)
    expect(r.stdout).toContain('reserved-service')
    expect(r.stderr).not.toMatch(/at .*\.js:\d+/)
  })

  it('an unknown task verb warns (exit 0), and fails with --strict (exit 2)', async () => {
    const lax = await runCommand(['contract', 'subject', 'dv.task.evt.updated', '--json'])
    expect(lax.exitCode).toBe(0)
    expect(SubjectAnalysis.parse(lax.json()).warnings.map((w) => w.code)).toEqual(['unknown-task-verb'])
    const strict = await runCommand(['contract', 'subject', 'dv.task.evt.updated', '--strict', '--json'])
    expect(strict.exitCode).toBe(2)
    expect(SubjectAnalysis.parse(strict.json()).problems.map((p) => p.code)).toEqual(['unknown-task-verb'])
  })

  it('wildcards only with --filter', async () => {
    const concrete = await runCommand(['contract', 'subject', 'dv.*.cmd.>', '--json'])
    expect(concrete.exitCode).toBe(2)
    expect(SubjectAnalysis.parse(concrete.json()).problems[0].code).toBe('wildcard-not-allowed')
    const filter = await runCommand(['contract', 'subject', 'dv.*.cmd.>', '--filter', '--json'])
    expect(filter.exitCode).toBe(0)
    expect(SubjectAnalysis.parse(filter.json())).toMatchObject({valid: true, family: 'cmd', filter: true})
  })

  it('a missing argument is a usage error (exit 2)', async () => {
    const r = await runCommand(['contract', 'subject'])
    expect(r.exitCode).toBe(2)
    expect(r.stderr).toContain('Missing 1 required arg')
  })
})

describe('dvctl contract validate', () => {
  it('a file with one valid envelope: exit 0', async () => {
    const r = await runCommand(['contract', 'validate', join(dir, 'good.json'), '--json'])
    expect(r.exitCode).toBe(0)
    expect(ValidateResult.parse(r.json())).toEqual({
      valid: true,
      results: [{index: 0, line: 1, id: good.id, type: good.type, valid: true, problems: [], warnings: []}],
    })
  })

  it('an array file: every element checked', async () => {
    const r = await runCommand(['contract', 'validate', join(dir, 'array.json'), '--json'])
    expect(r.exitCode).toBe(0)
    const result = ValidateResult.parse(r.json())
    expect(result.results).toHaveLength(VALID_EXAMPLES.length)
    expect(result.results.every((x) => x.valid)).toBe(true)
  })

  it('NDJSON with an invalid message: exit 2, the problems with path and code', async () => {
    const r = await runCommand(['contract', 'validate', join(dir, 'mixed.ndjson'), '--json'])
    expect(r.exitCode).toBe(2)
    const result = ValidateResult.parse(r.json())
    expect(result.valid).toBe(false)
    expect(result.results).toHaveLength(2 + VALID_EXAMPLES.length)
    expect(result.results.filter((x) => !x.valid).map((x) => x.id)).toEqual(['bad-1'])
    expect(result.results[1].problems).toEqual([
      {path: '$.correlation_id', code: 'missing-correlation', message: expect.any(String)},
      {path: '$.time', code: 'bad-time', message: expect.any(String)},
    ])
  })

  it('stdin, with "-" and with no argument', async () => {
    for (const args of [['-'], []]) {
      const r = await runCommand(['contract', 'validate', ...args, '--json'], {input: ndjson})
      expect(r.exitCode).toBe(2)
      expect(ValidateResult.parse(r.json()).results).toHaveLength(2 + VALID_EXAMPLES.length)
    }
    const ok = await runCommand(['contract', 'validate', '--json'], {input: JSON.stringify(good)})
    expect(ok.exitCode).toBe(0)
  })

  it('stdin that is not JSON: exit 2 with not-json', async () => {
    const r = await runCommand(['contract', 'validate', '-', '--json'], {input: 'hello world\n'})
    expect(r.exitCode).toBe(2)
    expect(ValidateResult.parse(r.json()).results[0].problems[0].code).toBe('not-json')
  })

  it('--subject checks the NATS subject against the envelope', async () => {
    const r = await runCommand([
      'contract',
      'validate',
      join(dir, 'good.json'),
      '--subject',
      'dv.task.evt.created',
      '--json',
    ])
    expect(r.exitCode).toBe(2)
    expect(ValidateResult.parse(r.json()).results[0].problems.map((p) => p.code)).toEqual(['type-mismatch'])
    const warn = await runCommand([
      'contract',
      'validate',
      join(dir, 'good.json'),
      '--subject',
      'dv.nett.cmd.provision',
      '--json',
    ])
    expect(warn.exitCode).toBe(0)
    expect(ValidateResult.parse(warn.json()).results[0].warnings.map((w) => w.code)).toEqual(['type-mismatch'])
  })

  it('--strict reports unknown fields as warnings', async () => {
    const input = JSON.stringify({...good, x_trace: 'abc'})
    const lax = await runCommand(['contract', 'validate', '--json'], {input})
    expect(ValidateResult.parse(lax.json()).results[0].warnings).toEqual([])
    const strict = await runCommand(['contract', 'validate', '--strict', '--json'], {input})
    expect(strict.exitCode).toBe(0)
    expect(ValidateResult.parse(strict.json()).results[0].warnings).toEqual([
      {path: '$.x_trace', code: 'unknown-field', message: expect.any(String)},
    ])
  })

  it('--schemas adds team schema files', async () => {
    const input = JSON.stringify(
      provisionCommand({dataschema: 'maskin.server.provision.requested/v2', data: {server_id: 's', flavor: 'huge'}}),
    )
    const r = await runCommand(['contract', 'validate', '--schemas', join(dir, 'schemas'), '--json'], {input})
    expect(r.exitCode).toBe(2)
    expect(ValidateResult.parse(r.json()).results[0].problems).toEqual([
      {path: '$.data.flavor', code: 'schema-violation', message: expect.any(String)},
    ])
  })

  it('the config file "schemas" key (relative to the config) is used when --schemas is not given', async () => {
    await writeFile(join(dir, 'config.yaml'), 'schemas: schemas\n')
    const input = JSON.stringify(
      provisionCommand({dataschema: 'maskin.server.provision.requested/v2', data: {server_id: 's', flavor: 'huge'}}),
    )
    const r = await runCommand(['contract', 'validate', '--json'], {
      input,
      env: {DVCTL_CONFIG: join(dir, 'config.yaml')},
    })
    expect(r.exitCode).toBe(2)
    expect(ValidateResult.parse(r.json()).results[0].problems.map((p) => p.path)).toEqual(['$.data.flavor'])
  })

  it('a bad schema file: exit 2 naming the file', async () => {
    const r = await runCommand(['contract', 'validate', '--schemas', join(dir, 'badschemas'), '--json'], {
      input: JSON.stringify(good),
    })
    expect(r.exitCode).toBe(2)
    const e = ErrorJson.parse(r.json())
    expect(e.code).toBe('bad-schema-file')
    expect(e.message).toContain('maskin.server.provisioned.v2.json')
  })

  it('a missing file or a directory: exit 2 with a clear message, no stack', async () => {
    const missing = await runCommand(['contract', 'validate', join(dir, 'nope.json')])
    expect(missing.exitCode).toBe(2)
    expect(missing.stderr.split('\n')[0]).toBe(`Error: Cannot read ${join(dir, 'nope.json')}: no such file.`)
    expect(missing.stderr).not.toMatch(/at .*\.js:\d+/)
    const directory = await runCommand(['contract', 'validate', dir, '--json'])
    expect(directory.exitCode).toBe(2)
    expect(ErrorJson.parse(directory.json())).toMatchObject({
      code: 'unreadable-file',
      message: expect.stringContaining('directory'),
    })
  })

  it('empty input: exit 2', async () => {
    const r = await runCommand(['contract', 'validate', '--json'], {input: ''})
    expect(r.exitCode).toBe(2)
    expect(ErrorJson.parse(r.json()).code).toBe('empty-input')
  })

  it('human output: one line per message, problems with codes, a count', async () => {
    const r = await runCommand(['contract', 'validate', join(dir, 'mixed.ndjson')])
    expect(r.exitCode).toBe(2)
    const lines = r.stdout.trim().split('\n')
    expect(lines[0]).toBe(`valid #0 (line 1) ${good.id} ${good.type}`)
    expect(lines[1]).toBe(`invalid #1 (line 2) bad-1 ${good.type}`)
    expect(r.stdout).toMatch(/error {3}missing-correlation {2}\$\.correlation_id/)
    expect(lines.at(-1)).toBe(`1 of ${2 + VALID_EXAMPLES.length} messages invalid`)
  })
})

describe('dvctl contract schemas', () => {
  it('lists the registered types and versions', async () => {
    const r = await runCommand(['contract', 'schemas', '--json'])
    expect(r.exitCode).toBe(0)
    const list = SchemaList.parse(r.json())
    expect(list.schemas.map((s) => s.dataschema)).toContain('maskin.server.provision.requested/v1')
    const withDir = SchemaList.parse(
      (await runCommand(['contract', 'schemas', '--schemas', join(dir, 'schemas'), '--json'])).json(),
    )
    expect(withDir.schemas.find((s) => s.dataschema === 'maskin.server.provision.requested/v2')?.origin).toContain(dir)
  })

  it('--json-schema exports the envelope and every payload (same document with or without --json)', async () => {
    const r = await runCommand(['contract', 'schemas', '--json-schema'])
    expect(r.exitCode).toBe(0)
    const exported = JsonSchemaExport.parse(r.json())
    expect(exported.envelope).toMatchObject({type: 'object', properties: {correlation_id: {type: 'string'}}})
    expect(exported.payloads.map((p) => p.dataschema)).toContain('task.failed/v1')
    const asJson = await runCommand(['contract', 'schemas', '--json-schema', '--json'])
    expect(JsonSchemaExport.parse(asJson.json())).toEqual(exported)
  })

  it('one type: its versions; --json-schema: the bare schema', async () => {
    const r = await runCommand(['contract', 'schemas', 'task.failed', '--json'])
    expect(r.exitCode).toBe(0)
    const detail = SchemaDetail.parse(r.json())
    expect(detail.versions.map((v) => v.dataschema)).toEqual(['task.failed/v1'])
    const bare = await runCommand(['contract', 'schemas', 'envelope', '--json-schema'])
    expect(bare.exitCode).toBe(0)
    expect(bare.json()).toMatchObject({
      $id: 'dataverket/envelope/v1',
      required: expect.arrayContaining(['correlation_id']),
    })
  })

  it('--sort and --limit with a type or --json-schema: a usage error, not silently ignored', async () => {
    for (const argv of [
      ['task.failed', '--limit', '1'],
      ['task.failed', '--sort', 'type'],
      ['--json-schema', '--limit', '1'],
    ]) {
      const r = await runCommand(['contract', 'schemas', ...argv, '--json'])
      expect(r.exitCode).toBe(2)
      expect(ErrorJson.parse(r.json())).toMatchObject({message: expect.stringContaining('--sort and --limit')})
    }
    const listed = await runCommand(['contract', 'schemas', '--limit', '1', '--json'])
    expect(listed.exitCode).toBe(0)
    expect(SchemaList.parse(listed.json()).schemas).toHaveLength(1)
  })

  it('an unknown type: exit 5 with a hint', async () => {
    const r = await runCommand(['contract', 'schemas', 'billing.invoice.created', '--json'])
    expect(r.exitCode).toBe(5)
    expect(ErrorJson.parse(r.json())).toMatchObject({
      code: 'unknown-schema',
      hint: expect.stringContaining('contract schemas'),
    })
  })
})
