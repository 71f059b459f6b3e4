import {describe, expect, it} from 'vitest'

import {Envelope, newEnvelope, validateEnvelope} from '../../../src/lib/contract/envelope.js'
import {builtinRegistry} from '../../../src/lib/contract/schemas.js'
import {provisionCommand, T, VALID_EXAMPLES} from './fixtures.js'

const codes = (r: {problems: Array<{code: string}>}) => r.problems.map((p) => p.code)
const without = (key: string) => {
  const e = provisionCommand()
  delete e[key]
  return e
}

describe('validateEnvelope: valid examples', () => {
  it.each(VALID_EXAMPLES)('$name passes, with and without its subject, also under strict', ({subject, envelope}) => {
    expect(validateEnvelope(envelope)).toEqual({valid: true, problems: [], warnings: []})
    expect(validateEnvelope(envelope, {subject})).toEqual({valid: true, problems: [], warnings: []})
    expect(validateEnvelope(envelope, {subject, strict: true})).toEqual({valid: true, problems: [], warnings: []})
    // The hand-written rules and the documented zod schema agree on valid messages.
    expect(Envelope.safeParse(envelope).success).toBe(true)
  })

  it('optional context fields may be absent', () => {
    const e = provisionCommand()
    for (const k of ['subject', 'tenant_id', 'project_id', 'environment_id', 'datacenter_id', 'datacontenttype'])
      delete e[k]
    expect(validateEnvelope(e).valid).toBe(true)
  })
})

describe('validateEnvelope: each rule has a failing example', () => {
  it.each([
    ['missing correlation_id on a command', without('correlation_id'), '$.correlation_id', 'missing-correlation'],
    ['empty correlation_id', provisionCommand({correlation_id: ''}), '$.correlation_id', 'missing-correlation'],
    ['missing id', without('id'), '$.id', 'missing-field'],
    ['missing type', without('type'), '$.type', 'missing-field'],
    ['missing source', without('source'), '$.source', 'missing-field'],
    ['missing time', without('time'), '$.time', 'missing-field'],
    ['missing actor', without('actor'), '$.actor', 'missing-field'],
    ['missing data', without('data'), '$.data', 'missing-field'],
    ['missing specversion', without('specversion'), '$.specversion', 'missing-field'],
    ['specversion 2.0', provisionCommand({specversion: '2.0'}), '$.specversion', 'bad-specversion'],
    ['specversion as a number', provisionCommand({specversion: 1.0}), '$.specversion', 'bad-specversion'],
    ['non-UTC time', provisionCommand({time: '2026-03-14T10:30:00+01:00'}), '$.time', 'bad-time'],
    ['time without offset', provisionCommand({time: '2026-03-14T09:30:00'}), '$.time', 'bad-time'],
    ['time as epoch millis', provisionCommand({time: 1773480600000}), '$.time', 'bad-time'],
    ['time that is not a date', provisionCommand({time: '2026-02-30T09:30:00Z'}), '$.time', 'bad-time'],
    ['time in another format', provisionCommand({time: 'Sat, 14 Mar 2026 09:30:00 GMT'}), '$.time', 'bad-time'],
    ['data as an array', provisionCommand({data: [{server_id: 'x'}]}), '$.data', 'data-not-object'],
    ['data as a string', provisionCommand({data: '{"server_id":"x"}'}), '$.data', 'data-not-object'],
    ['data as null', provisionCommand({data: null}), '$.data', 'data-not-object'],
    ['unknown source', provisionCommand({source: 'billing'}), '$.source', 'unknown-source'],
    ['source is a reserved word', provisionCommand({source: 'task'}), '$.source', 'unknown-source'],
    ['empty id', provisionCommand({id: ''}), '$.id', 'bad-field'],
    ['actor as an object', provisionCommand({actor: {user: 'lars'}}), '$.actor', 'bad-field'],
    ['tenant_id as a number', provisionCommand({tenant_id: 42}), '$.tenant_id', 'bad-field'],
    ['empty causation_id', provisionCommand({causation_id: ''}), '$.causation_id', 'bad-field'],
    ['message causing itself', provisionCommand({causation_id: provisionCommand().id}), '$.causation_id', 'bad-field'],
    ['type with upper case', provisionCommand({type: 'Maskin.Server.Provision'}), '$.type', 'bad-type'],
    ['type of unknown service', provisionCommand({type: 'billing.invoice.created'}), '$.type', 'bad-type'],
    ['type too short', provisionCommand({type: 'maskin.provision'}), '$.type', 'bad-type'],
    [
      'datacontenttype other than JSON',
      provisionCommand({datacontenttype: 'application/octet-stream'}),
      '$.datacontenttype',
      'bad-datacontenttype',
    ],
    [
      'dataschema without version',
      provisionCommand({dataschema: 'maskin.server.provision.requested'}),
      '$.dataschema',
      'bad-dataschema',
    ],
    [
      'dataschema v0',
      provisionCommand({dataschema: 'maskin.server.provision.requested/v0'}),
      '$.dataschema',
      'bad-dataschema',
    ],
    [
      'dataschema of another type',
      provisionCommand({dataschema: 'nett.apply.requested/v1'}),
      '$.dataschema',
      'bad-dataschema',
    ],
    [
      'payload missing a required field',
      provisionCommand({data: {server_id: 'srv-1'}}),
      '$.data.profile',
      'schema-violation',
    ],
    [
      'payload field of the wrong type',
      provisionCommand({data: {server_id: 'srv-1', profile: 7}}),
      '$.data.profile',
      'schema-violation',
    ],
    [
      'payload nested field wrong',
      provisionCommand({data: {server_id: 's', profile: 'p', labels: {rack: 12}}}),
      '$.data.labels.rack',
      'schema-violation',
    ],
  ])('%s', (_name, envelope, path, code) => {
    const r = validateEnvelope(envelope)
    expect(r.valid).toBe(false)
    expect(r.problems).toContainEqual({path, code, message: expect.any(String)})
  })

  it.each([
    ['2028-02-29T00:00:00Z', true],
    ['2026-02-29T00:00:00Z', false],
    ['2026-04-31T12:00:00Z', false],
    ['2026-12-31T23:59:60Z', true],
    ['2026-12-31T24:00:00Z', false],
    ['2026-13-01T00:00:00Z', false],
    ['2026-03-14t09:30:00.123456z', true],
  ])('time %s is valid: %s', (time, ok) => {
    expect(validateEnvelope(provisionCommand({time})).valid).toBe(ok)
  })

  it('reports a 10 KiB base64 string anywhere in data as opaque binary, with its path', () => {
    const blob = Buffer.alloc(7700, 7).toString('base64')
    expect(blob.length).toBeGreaterThan(10_000)
    const r = validateEnvelope(
      provisionCommand({data: {server_id: 's', profile: 'p', files: [{name: 'a', content: blob}]}}),
    )
    expect(r.valid).toBe(false)
    expect(r.problems).toEqual([
      {path: '$.data.files[0].content', code: 'opaque-binary', message: expect.stringContaining('base64')},
    ])
  })

  it('does not call long prose or short base64 opaque binary', () => {
    const prose = 'The server failed to boot because the disk controller reported errors. '.repeat(100)
    const short = Buffer.alloc(3000, 1).toString('base64')
    expect(
      validateEnvelope(provisionCommand({data: {server_id: 's', profile: 'p', log: prose, key: short}})).valid,
    ).toBe(true)
  })

  it('refuses a message bigger than max_payload', () => {
    const e = provisionCommand({data: {server_id: 's', profile: 'p', note: 'x'.repeat(2000)}})
    const r = validateEnvelope(e, {maxPayload: 1024})
    expect(r.problems).toContainEqual({path: '$', code: 'too-large', message: expect.stringContaining('1024')})
    expect(validateEnvelope(e, {maxPayload: 1024 * 1024}).valid).toBe(true)
  })

  it('a message that is not an object is one problem at $', () => {
    for (const value of [[], 'text', 42, null, true]) {
      expect(validateEnvelope(value)).toEqual({
        valid: false,
        problems: [{path: '$', code: 'not-object', message: expect.any(String)}],
        warnings: [],
      })
    }
  })

  it('reports every problem of a message at once', () => {
    const r = validateEnvelope({
      specversion: '0.9',
      id: 'x',
      type: 'maskin.server.provisioned',
      source: 'nope',
      time: 'yesterday',
      actor: 'a',
      data: [],
    })
    expect(codes(r).sort()).toEqual([
      'bad-specversion',
      'bad-time',
      'data-not-object',
      'missing-correlation',
      'unknown-source',
    ])
  })
})

describe('validateEnvelope: subject and family', () => {
  it('warns when the type names another service than the subject', () => {
    const r = validateEnvelope(provisionCommand(), {subject: 'dv.nett.cmd.provision'})
    expect(r.valid).toBe(true)
    expect(r.warnings).toEqual([{path: '$.type', code: 'type-mismatch', message: expect.stringContaining('nett')}])
  })

  it('an invalid NATS subject makes the message invalid', () => {
    const r = validateEnvelope(provisionCommand(), {subject: 'dv.maskin.cmd.Provision'})
    expect(r.problems).toContainEqual({path: 'subject', code: 'bad-token', message: expect.any(String)})
  })

  it('task events: type task.<verb> matching the subject, envelope subject = data.task_id', () => {
    const ok = VALID_EXAMPLES.find((x) => x.envelope.type === 'task.succeeded')!.envelope
    expect(
      validateEnvelope({...ok, type: 'maskin.task.succeeded'}, {subject: 'dv.task.evt.succeeded'}).problems,
    ).toContainEqual({
      path: '$.type',
      code: 'type-mismatch',
      message: expect.any(String),
    })
    expect(validateEnvelope(ok, {subject: 'dv.task.evt.failed'}).problems.map((p) => p.code)).toContain('type-mismatch')
    expect(validateEnvelope(ok, {subject: 'dv.maskin.evt.task.succeeded'}).problems.map((p) => p.code)).toContain(
      'type-mismatch',
    )

    const noSubject = {...ok}
    delete noSubject.subject
    expect(validateEnvelope(noSubject).problems).toContainEqual({
      path: '$.subject',
      code: 'missing-field',
      message: expect.any(String),
    })

    const otherTask = {...ok, subject: 'task-43'}
    expect(validateEnvelope(otherTask).problems).toContainEqual({
      path: '$.data.task_id',
      code: 'task-subject-mismatch',
      message: expect.any(String),
    })

    const wrongState = {...ok, data: {task_id: 'task-42', state: 'started'}}
    expect(validateEnvelope(wrongState).problems).toContainEqual({
      path: '$.data.state',
      code: 'type-mismatch',
      message: expect.any(String),
    })
  })

  it('task event payloads: task_id required, failed needs an error, percent within 0..100', () => {
    const base = VALID_EXAMPLES.find((x) => x.envelope.type === 'task.succeeded')!.envelope
    const failed = {...base, type: 'task.failed', data: {task_id: 'task-42', state: 'failed'}}
    expect(validateEnvelope(failed).problems).toContainEqual({
      path: '$.data.error',
      code: 'schema-violation',
      message: expect.any(String),
    })
    const withError = {
      ...failed,
      data: {...failed.data, error: {code: 'disk-failure', message: 'no disk', retryable: false}},
    }
    expect(validateEnvelope(withError).valid).toBe(true)
    const noId = {...base, data: {state: 'succeeded'}}
    expect(validateEnvelope(noId).problems).toContainEqual({
      path: '$.data.task_id',
      code: 'schema-violation',
      message: expect.any(String),
    })
    const overfull = {
      ...base,
      type: 'task.progress',
      data: {task_id: 'task-42', state: 'progress', progress: {percent: 140}},
    }
    expect(validateEnvelope(overfull).problems).toContainEqual({
      path: '$.data.progress.percent',
      code: 'schema-violation',
      message: expect.any(String),
    })
  })

  it('an unknown task verb in the type warns, and fails under strict', () => {
    const base = VALID_EXAMPLES.find((x) => x.envelope.type === 'task.succeeded')!.envelope
    const updated = {...base, type: 'task.updated', data: {task_id: 'task-42', state: 'updated'}}
    const lax = validateEnvelope(updated, {subject: 'dv.task.evt.updated'})
    expect(lax.valid).toBe(true)
    expect(lax.warnings.map((w) => w.code)).toContain('unknown-task-verb')
    const strict = validateEnvelope(updated, {subject: 'dv.task.evt.updated', strict: true})
    expect(strict.valid).toBe(false)
    expect(codes(strict)).toContain('unknown-task-verb')
    // Its data is still checked as task data.
    expect(validateEnvelope({...updated, data: {state: 'updated'}}).problems.map((p) => p.path)).toContain(
      '$.data.task_id',
    )
  })
})

describe('validateEnvelope: unknown fields and versions', () => {
  it('unknown fields pass; under strict they are warnings', () => {
    const e = provisionCommand({trace_id: 'abc', data: {server_id: 's', profile: 'p', rack_hint: 'r1'}})
    expect(validateEnvelope(e)).toEqual({valid: true, problems: [], warnings: []})
    const strict = validateEnvelope(e, {strict: true})
    expect(strict.valid).toBe(true)
    expect(strict.warnings).toEqual([
      {path: '$.data.rack_hint', code: 'unknown-field', message: expect.any(String)},
      {path: '$.trace_id', code: 'unknown-field', message: expect.any(String)},
    ])
  })

  it('a version with no registered schema is a warning, and the payload is not checked', () => {
    const e = provisionCommand({dataschema: 'maskin.server.provision.requested/v3', data: {anything: true}})
    const r = validateEnvelope(e)
    expect(r.valid).toBe(true)
    expect(r.warnings).toEqual([
      {path: '$.dataschema', code: 'unknown-schema-version', message: expect.stringContaining('v1')},
    ])
  })

  it('checks the payload against the version named by dataschema', async () => {
    const {z} = await import('zod')
    const registry = builtinRegistry().register({
      type: 'maskin.server.provision.requested',
      version: 2,
      origin: 'test',
      schema: z.looseObject({server_id: z.string(), flavor: z.enum(['small', 'large'])}),
    })
    const v2 = provisionCommand({
      dataschema: 'maskin.server.provision.requested/v2',
      data: {server_id: 's', flavor: 'huge'},
    })
    expect(validateEnvelope(v2, {registry}).problems).toContainEqual({
      path: '$.data.flavor',
      code: 'schema-violation',
      message: expect.any(String),
    })
    expect(validateEnvelope({...v2, data: {server_id: 's', flavor: 'large'}}, {registry}).valid).toBe(true)
    // Without dataschema the same payload is v1 and fails v1's schema.
    const v1: Record<string, unknown> = {...v2, data: {server_id: 's', flavor: 'large'}}
    delete v1.dataschema
    expect(validateEnvelope(v1, {registry}).problems.map((p) => p.path)).toContain('$.data.profile')
  })

  it('types without a registered schema are accepted as any object', () => {
    const e = provisionCommand({type: 'objekt.bucket.created', source: 'objekt', data: {whatever: 1}})
    expect(validateEnvelope(e)).toEqual({valid: true, problems: [], warnings: []})
  })
})

describe('newEnvelope', () => {
  it('fills specversion, id, time and datacontenttype and validates', () => {
    const e = newEnvelope({
      type: 'maskin.server.provision.requested',
      source: 'sentral',
      actor: 'user:lars',
      correlation_id: 'wf-1',
      data: {server_id: 's', profile: 'p'},
    })
    expect(e).toMatchObject({specversion: '1.0', datacontenttype: 'application/json'})
    expect(e.id).toMatch(/^[0-9a-f-]{36}$/)
    expect(e.time).toMatch(/Z$/)
    expect(validateEnvelope(e, {subject: 'dv.maskin.cmd.provision', strict: true})).toEqual({
      valid: true,
      problems: [],
      warnings: [],
    })
    expect(Object.keys(e)).toEqual([
      'specversion',
      'id',
      'type',
      'source',
      'time',
      'datacontenttype',
      'actor',
      'correlation_id',
      'data',
    ])
  })

  it('keeps given id, time and optional fields, and never two equal ids', () => {
    const fields = {
      type: 'nett.apply.requested',
      source: 'sentral' as const,
      actor: 'a',
      correlation_id: 'c',
      data: {network_id: 'n'},
    }
    const e = newEnvelope({...fields, id: 'fixed', time: T, causation_id: 'parent', tenant_id: 't'})
    expect(e).toMatchObject({id: 'fixed', time: T, causation_id: 'parent', tenant_id: 't'})
    expect(newEnvelope(fields).id).not.toBe(newEnvelope(fields).id)
  })
})
