// contract export: the AsyncAPI document passes the official parser, covers every subject family and every
// payload schema, and agrees with dvctl's validator both ways; the JSON Schema bundle does too.
//
// Ajv here is version 6 (draft-07), as in test/property/envelope-rules.property.test.ts: the exported schemas
// use only keywords that mean the same in draft-07 and 2020-12 (that test proves it for the envelope).
import {mkdtemp, readFile, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {Parser, type AsyncAPIDocumentInterface} from '@asyncapi/parser'
import Ajv from 'ajv'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {validateEnvelope} from '../../src/lib/contract/envelope.js'
import {asyncApiDocument, ContractExportFiles, jsonSchemaBundle} from '../../src/lib/contract/export.js'
import {builtinRegistry, loadSchemaDir, SchemaList} from '../../src/lib/contract/schemas.js'
import {SERVICES} from '../../src/lib/contract/services.js'
import {runCommand} from '../helpers/run.js'
import {provisionCommand, VALID_EXAMPLES} from '../unit/contract/fixtures.js'

const TEAM_SCHEMA = {
  $id: 'https://schemas.dataverket.no/objekt.bucket.created/v2',
  type: 'object',
  properties: {bucket: {type: 'string', minLength: 1}, quota_gb: {type: 'integer', minimum: 1}},
  required: ['bucket'],
  examples: [{bucket: 'media', quota_gb: 50}],
}

describe('dvctl contract export', {timeout: 120_000}, () => {
  let dir: string
  let schemasDir: string
  let config: string
  let doc: Record<string, unknown>
  let parsed: AsyncAPIDocumentInterface
  let diagnostics: Array<{severity: number; code: string | number; message: string; path: Array<string | number>}>

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dvctl-export-'))
    schemasDir = join(dir, 'schemas')
    const {mkdir} = await import('node:fs/promises')
    await mkdir(schemasDir)
    await writeFile(join(schemasDir, 'objekt.bucket.created.v2.json'), JSON.stringify(TEAM_SCHEMA))
    config = join(dir, 'config.yaml')
    await writeFile(
      config,
      [
        'default_site: osl1',
        'sites:',
        '  osl1: {servers: ["nats://bob:s3cret-pw@nats1.osl1.example:4222", "nats://n2.osl1.example:4222"], js_domain: osl1}',
        '  trd1: {servers: ["tls://t0ken-value@nats.trd1.example:4443"], description: "Trondheim"}',
        '',
      ].join('\n'),
    )
    const r = await runCommand(['contract', 'export', '--format', 'asyncapi', '--schemas', schemasDir], {
      env: {DVCTL_CONFIG: config},
    })
    expect(r.exitCode, r.stderr).toBe(0)
    doc = JSON.parse(r.stdout) as Record<string, unknown>
    const result = await new Parser().parse(r.stdout)
    diagnostics = result.diagnostics
    parsed = result.document!
  })
  afterAll(async () => {
    await rm(dir, {recursive: true, force: true})
  })

  it('passes @asyncapi/parser with no errors or warnings', () => {
    // Information only: AsyncAPI 3.1 exists; the document is written as 3.0.
    expect(diagnostics.filter((d) => d.severity <= 1)).toEqual([])
    expect(parsed).toBeDefined()
    expect(doc.asyncapi).toBe('3.0.0')
  })

  it('has a channel for every subject family, with its parameters, and every payload schema as a message', () => {
    const addresses = parsed
      .channels()
      .all()
      .map((c) => c.address())
    for (const family of [
      'dv.{service}.cmd.{action}',
      'dv.{service}.evt.{entity}.{verb}',
      'dv.task.evt.{verb}',
      'dv.rpc.{service}.{operation}',
    ])
      expect(addresses).toContain(family)
    const command = parsed
      .channels()
      .all()
      .find((c) => c.address() === 'dv.{service}.cmd.{action}')!
    expect(
      command
        .parameters()
        .all()
        .map((p) => p.id())
        .sort(),
    ).toEqual(['action', 'service'])
    expect(command.parameters().get('service')?.json()).toMatchObject({enum: [...SERVICES]})

    const names = parsed
      .allMessages()
      .all()
      .map((m) => m.name())
    for (const entry of builtinRegistry().list()) {
      expect(names, entry.type).toContain(entry.type)
      // Each built-in's own subject is a channel of its own.
      if (!entry.reply) expect(addresses, entry.subject).toContain(entry.subject)
    }
    expect(names).toContain('objekt.bucket.created')
    const events = parsed
      .channels()
      .all()
      .find((c) => c.address() === 'dv.{service}.evt.{entity}.{verb}')!
    expect(
      events
        .messages()
        .all()
        .map((m) => m.name()),
    ).toContain('objekt.bucket.created')
  })

  it('has send and receive operations, and request/reply for rpc', () => {
    const ops = parsed.operations().all()
    const byId = (id: string) => ops.find((o) => o.id() === id)!
    expect(byId('sendCommand').action()).toBe('send')
    expect(byId('receiveEvent').action()).toBe('receive')
    const request = byId('request_dv_rpc_identitet_introspect_token')
    expect(request.action()).toBe('send')
    expect(
      request
        .reply()
        ?.messages()
        .all()
        .map((m) => m.name()),
    ).toEqual(['identitet.token.introspect.replied'])
  })

  it('lists the configured sites as servers without the credentials in their URLs', () => {
    const servers = parsed
      .servers()
      .all()
      .map((s) => [s.id(), s.host(), s.protocol()])
    expect(servers).toEqual([
      ['osl1', 'nats1.osl1.example:4222', 'nats'],
      ['osl1-2', 'n2.osl1.example:4222', 'nats'],
      ['trd1', 'nats.trd1.example:4443', 'nats'],
    ])
    const text = JSON.stringify(doc)
    for (const secret of ['s3cret-pw', 'bob', 't0ken-value']) expect(text).not.toContain(secret)
  })

  it('every example is valid by dvctl and by its exported schema; what dvctl accepts the schema accepts', async () => {
    const ajv = new Ajv({allErrors: true})
    const messages = parsed.allMessages().all()
    const registry = await loadSchemaDir(schemasDir)
    let examples = 0
    for (const message of messages) {
      const accepts = ajv.compile(message.payload()!.json())
      const channel = message
        .channels()
        .all()
        .find((c) => c.address() && !c.address()!.includes('{'))
      for (const example of message.examples().all()) {
        examples++
        const payload = example.payload()
        const check = validateEnvelope(payload, {subject: channel?.address() ?? undefined, registry, advisory: true})
        expect(check, message.name()).toEqual({valid: true, problems: [], warnings: []})
        expect(accepts(payload), JSON.stringify(accepts.errors)).toBe(true)
      }
      // The reverse: dvctl-valid fixtures of this type pass the message's schema, and a broken payload fails both.
      for (const {envelope, subject} of VALID_EXAMPLES.filter((v) => v.envelope.type === message.name())) {
        expect(validateEnvelope(envelope, {subject, registry}).valid).toBe(true)
        expect(accepts(envelope), `${message.name()} ${JSON.stringify(accepts.errors)}`).toBe(true)
      }
    }
    expect(examples).toBe(messages.length)
    const provision = messages.find((m) => m.name() === 'maskin.server.provision.requested')!
    const broken = provisionCommand({data: {profile: 'gpu-large'}})
    expect(validateEnvelope(broken).valid).toBe(false)
    expect(ajv.validate(provision.payload()!.json(), broken)).toBe(false)
  })

  it('the JSON Schema bundle gives the same verdict as dvctl on whole messages', async () => {
    const registry = await loadSchemaDir(schemasDir)
    const {$schema, ...bundle} = jsonSchemaBundle(registry)
    expect($schema).toBe('https://json-schema.org/draft/2020-12/schema')
    const accepts = new Ajv({allErrors: true}).compile(bundle)
    const team = {
      ...provisionCommand(),
      type: 'objekt.bucket.created',
      source: 'objekt',
      dataschema: 'objekt.bucket.created/v2',
      data: {bucket: 'media'},
    }
    const cases = [
      ...VALID_EXAMPLES.map((v) => v.envelope),
      team,
      {...team, data: {quota_gb: 0}},
      {...team, dataschema: 'objekt.bucket.created/v7', data: {}},
      provisionCommand({data: {server_id: 'x'}}),
      provisionCommand({time: '2026-03-14T10:30:00+01:00'}),
      provisionCommand({correlation_id: undefined}),
      provisionCommand({type: 'task.rebooted', subject: 't-1', data: {task_id: 't-1'}}),
      provisionCommand({type: 'task.rebooted', subject: 't-1', data: {task_id: 't-1', state: 'rebooted'}}),
    ]
    for (const message of cases) {
      const json = JSON.parse(JSON.stringify(message)) as Record<string, unknown>
      expect(accepts(json), JSON.stringify({json, errors: accepts.errors})).toBe(
        validateEnvelope(json, {registry}).valid,
      )
    }
    // Both verdicts occur.
    expect(cases.map((c) => validateEnvelope(JSON.parse(JSON.stringify(c)), {registry}).valid)).toContain(false)
  })

  it('--out writes the files, and the payload files load back with --schemas', async () => {
    const out = join(dir, 'out')
    const r = await runCommand(['contract', 'export', '--format', 'json-schema', '--out', out, '--json'])
    expect(r.exitCode, r.stderr).toBe(0)
    const result = ContractExportFiles.parse(r.json())
    expect(result.files).toContain(join(out, 'dataverket-contract.schema.json'))
    expect(result.files).toContain(join(out, 'payloads', 'maskin.server.provisioned.v1.json'))
    const bundle = JSON.parse(await readFile(join(out, 'dataverket-contract.schema.json'), 'utf8')) as unknown
    expect(bundle).toEqual(jsonSchemaBundle(builtinRegistry()))
    const listed = await runCommand(['contract', 'schemas', '--schemas', join(out, 'payloads'), '--json'])
    expect(listed.exitCode, listed.stderr).toBe(0)
    const types = SchemaList.parse(listed.json()).schemas
    expect(types.map((s) => s.dataschema)).toEqual(
      builtinRegistry()
        .list()
        .map((e) => `${e.type}/v${e.version}`),
    )
    expect(types.every((s) => s.origin.startsWith(join(out, 'payloads')))).toBe(true)

    const asyncapi = await runCommand(['contract', 'export', '--format', 'asyncapi', '--out', out])
    expect(asyncapi.exitCode, asyncapi.stderr).toBe(0)
    expect(asyncapi.stdout.trim()).toBe(`wrote ${join(out, 'asyncapi.json')}`)
    // No config, no servers.
    const written = JSON.parse(await readFile(join(out, 'asyncapi.json'), 'utf8')) as Record<string, unknown>
    expect(written).toEqual(asyncApiDocument({registry: builtinRegistry()}))
    expect(written.servers).toBeUndefined()
  })
})
