import {mkdir, mkdtemp, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {z} from 'zod'

import {MAX_TEAM_SCHEMA_DEPTH, validateEnvelope} from '../../../src/lib/contract/envelope.js'
import {
  builtinRegistry,
  exportJsonSchema,
  findSchemas,
  JsonSchemaExport,
  listSchemas,
  loadSchemaDir,
  SchemaList,
} from '../../../src/lib/contract/schemas.js'
import {TASK_VERBS} from '../../../src/lib/contract/services.js'
import {UserError} from '../../../src/lib/errors.js'
import {provisionCommand, VALID_EXAMPLES} from './fixtures.js'

let root: string
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'dvctl-schemas-'))
})
afterAll(async () => rm(root, {recursive: true, force: true}))

async function schemaDir(name: string, files: Record<string, unknown>): Promise<string> {
  const dir = join(root, name)
  await mkdir(dir, {recursive: true})
  for (const [file, content] of Object.entries(files)) {
    await writeFile(join(dir, file), typeof content === 'string' ? content : JSON.stringify(content))
  }
  return dir
}

const provisionV2 = {
  type: 'object',
  required: ['server_id', 'flavor'],
  properties: {server_id: {type: 'string', minLength: 1}, flavor: {enum: ['small', 'large']}},
}

describe('built-in registry', () => {
  it('holds the ADR example payloads and every task verb, as v1', () => {
    const list = SchemaList.parse(listSchemas())
    const types = list.schemas.map((s) => s.dataschema)
    for (const t of [
      'maskin.server.provision.requested',
      'maskin.server.provisioned',
      'nett.apply.requested',
      'plattform.cluster.ready',
      'identitet.token.introspect.requested',
      ...TASK_VERBS.map((v) => `task.${v}`),
    ]) {
      expect(types).toContain(`${t}/v1`)
    }
    expect(list.schemas.every((s) => s.origin === 'built-in')).toBe(true)
  })
})

describe('loadSchemaDir', () => {
  it('loads <type>.v<N>.json and $id-named files, and validates payloads with them', async () => {
    const dir = await schemaDir('good', {
      'maskin.server.provision.requested.v2.json': provisionV2,
      'any-name.json': {
        $id: 'https://schemas.dataverket.no/objekt.bucket.created/v1',
        type: 'object',
        required: ['bucket'],
        properties: {bucket: {type: 'string'}},
      },
      'README.md': 'not a schema',
    })
    const registry = await loadSchemaDir(dir)
    expect(registry.get('maskin.server.provision.requested', 2)?.origin).toBe(
      join(dir, 'maskin.server.provision.requested.v2.json'),
    )
    expect(registry.get('objekt.bucket.created', 1)).toBeDefined()
    expect(registry.get('maskin.server.provision.requested', 1)?.origin).toBe('built-in')

    const v2 = provisionCommand({
      dataschema: 'maskin.server.provision.requested/v2',
      data: {server_id: 's', flavor: 'huge'},
    })
    expect(validateEnvelope(v2, {registry}).problems).toContainEqual({
      path: '$.data.flavor',
      code: 'schema-violation',
      message: expect.any(String),
    })
    expect(validateEnvelope({...v2, data: {server_id: 's', flavor: 'small'}}, {registry}).valid).toBe(true)

    const bucket = provisionCommand({type: 'objekt.bucket.created', source: 'objekt', data: {name: 'b'}})
    expect(validateEnvelope(bucket, {registry}).problems.map((p) => p.path)).toContain('$.data.bucket')
    // Without the directory the type has no schema and passes.
    expect(validateEnvelope(bucket).valid).toBe(true)
  })

  it('a team file replaces the built-in of the same type and version', async () => {
    const dir = await schemaDir('override', {
      'maskin.server.provision.requested.v1.json': {
        type: 'object',
        required: ['rack'],
        properties: {rack: {type: 'string'}},
      },
    })
    const registry = await loadSchemaDir(dir)
    expect(validateEnvelope(provisionCommand(), {registry}).problems.map((p) => p.path)).toEqual(['$.data.rack'])
  })

  it('does not check a payload nested deeper than MAX_TEAM_SCHEMA_DEPTH against a team schema', async () => {
    // A recursive schema (a tree through $ref) is checked by recursion: thousands of levels run the stack out.
    const dir = await schemaDir('tree', {
      'maskin.server.provision.requested.v1.json': {
        type: 'object',
        $defs: {node: {type: 'object', properties: {kids: {type: 'array', items: {$ref: '#/$defs/node'}}}}},
        properties: {root: {$ref: '#/$defs/node'}},
      },
    })
    const registry = await loadSchemaDir(dir)
    // `levels` objects and arrays below data: root, then a kids array and a node for each step down.
    const tree = (levels: number) => {
      let node: Record<string, unknown> = {}
      for (let i = 1; i < levels; i += 2) node = {kids: [node]}
      return node
    }
    const problems = (levels: number) =>
      validateEnvelope(provisionCommand({data: {root: tree(levels)}}), {registry}).problems
    expect(problems(MAX_TEAM_SCHEMA_DEPTH - 1)).toEqual([])
    for (const levels of [MAX_TEAM_SCHEMA_DEPTH + 1, 100_000]) {
      expect(problems(levels)).toEqual([
        {
          path: '$.data',
          code: 'schema-violation',
          message: `The payload is nested deeper than ${MAX_TEAM_SCHEMA_DEPTH} levels; it was not checked against maskin.server.provision.requested/v1.`,
        },
      ])
    }
    // The built-in schemas do not descend into free-form values: no such limit there.
    const deep = provisionCommand({data: {server_id: 'srv-1', profile: 'small', extra: tree(100_000)}})
    expect(validateEnvelope(deep).problems).toEqual([])
  })

  it.each([
    ['not JSON', {'maskin.x.y.v1.json': '{ nope'}, /not valid JSON/],
    ['not an object', {'maskin.x.y.v1.json': '[1]'}, /must be a JSON object/],
    ['no type or version', {'schema.json': {type: 'object'}}, /cannot tell which type and version/],
    [
      'unusable schema',
      {'maskin.x.y.v1.json': {type: 'object', properties: {a: {$ref: '#/nowhere'}}}},
      /not a usable JSON Schema/,
    ],
    [
      'nested too deep',
      {
        'maskin.x.y.v1.json': JSON.stringify({type: 'object'}).replace(
          '}',
          `,"properties":{"a":${'{"type":"array","items":'.repeat(20_000)}{}${'}'.repeat(20_000)}}}`,
        ),
      },
      /nested deeper than 256 levels/,
    ],
    [
      'two files for one version',
      {'maskin.x.y.v1.json': {type: 'object'}, 'other.json': {$id: 'maskin.x.y/v1', type: 'object'}},
      /second schema for maskin.x.y\/v1/,
    ],
  ])('a bad file (%s) is a user error, exit 2, naming the file', async (name, files, message) => {
    const dir = await schemaDir(`bad-${name.replace(/\W/g, '-')}`, files)
    const error = await loadSchemaDir(dir).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(UserError)
    expect(error).toMatchObject({code: 'bad-schema-file', exitCode: 2, message: expect.stringMatching(message)})
    expect((error as UserError).message).toContain(dir)
  })

  it('a missing directory is a user error, exit 2', async () => {
    await expect(loadSchemaDir(join(root, 'nope'))).rejects.toMatchObject({code: 'bad-schema-dir', exitCode: 2})
  })
})

describe('JSON Schema export', () => {
  it('exports the envelope and every payload; the envelope schema agrees with validateEnvelope', () => {
    const exported = JsonSchemaExport.parse(exportJsonSchema())
    expect(exported.envelope).toMatchObject({
      type: 'object',
      required: expect.arrayContaining([
        'specversion',
        'id',
        'type',
        'source',
        'time',
        'actor',
        'correlation_id',
        'data',
      ]),
    })
    expect(exported.payloads.map((p) => p.dataschema)).toEqual(listSchemas().schemas.map((s) => s.dataschema))

    const envelope = z.fromJSONSchema(exported.envelope as Parameters<typeof z.fromJSONSchema>[0])
    for (const {envelope: e} of VALID_EXAMPLES) expect(envelope.safeParse(e).success).toBe(true)
    for (const bad of [
      provisionCommand({specversion: '2.0'}),
      provisionCommand({time: '2026-03-14T10:30:00+01:00'}),
      provisionCommand({source: 'billing'}),
      provisionCommand({data: []}),
      provisionCommand({correlation_id: undefined}),
    ]) {
      expect(envelope.safeParse(JSON.parse(JSON.stringify(bad))).success).toBe(false)
    }
  })

  it('exports team files as written', async () => {
    const dir = await schemaDir('export', {'maskin.server.provision.requested.v2.json': provisionV2})
    const exported = exportJsonSchema(await loadSchemaDir(dir))
    expect(exported.payloads.find((p) => p.dataschema === 'maskin.server.provision.requested/v2')?.json_schema).toEqual(
      provisionV2,
    )
  })

  it('findSchemas picks a type, a single version, or the envelope', () => {
    const registry = builtinRegistry()
    expect(findSchemas(registry, 'task.failed').versions.map((v) => v.dataschema)).toEqual(['task.failed/v1'])
    expect(findSchemas(registry, 'task.failed/v1').versions).toHaveLength(1)
    expect(findSchemas(registry, 'task.failed/v2').versions).toHaveLength(0)
    expect(findSchemas(registry, 'envelope').versions[0].json_schema).toHaveProperty('properties.correlation_id')
    expect(findSchemas(registry, 'nope').versions).toEqual([])
  })
})
