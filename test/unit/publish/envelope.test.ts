import {describe, expect, it} from 'vitest'

import {builtinRegistry} from '../../../src/lib/contract/registry.js'
import {parseSubject} from '../../../src/lib/contract/taxonomy.js'
import {buildMessage, defaultSource, defaultType, knownSubjects} from '../../../src/lib/publish/envelope.js'
import {nameUuid, pastTense} from '../../../src/lib/sandbox/workers/naming.js'
import {supportsTermReason} from '../../../src/lib/nats/server-version.js'

const registry = builtinRegistry()
const opts = {registry, families: ['cmd' as const, 'evt' as const, 'task' as const], otherCommand: 'dvctl request'}

describe('publish envelope defaults', () => {
  it.each([
    ['dv.maskin.cmd.provision', 'maskin.server.provision.requested'],
    ['dv.nett.cmd.apply', 'nett.apply.requested'],
    ['dv.rpc.identitet.introspect_token', 'identitet.token.introspect.requested'],
    ['dv.plattform.cmd.scale_out', 'plattform.scale_out.requested'],
    ['dv.maskin.evt.server.provisioned', 'maskin.server.provisioned'],
    ['dv.task.evt.started', 'task.started'],
  ])('type for %s is %s', (subject, type) => {
    expect(defaultType(parseSubject(subject), registry)).toBe(type)
  })

  it('source is sentral, except events, which come from their own service', () => {
    expect(defaultSource(parseSubject('dv.maskin.cmd.provision'))).toBe('sentral')
    expect(defaultSource(parseSubject('dv.nett.evt.network.applied'))).toBe('nett')
  })

  it('fills id, time and a new correlation_id (the root id), and validates clean', () => {
    const m = buildMessage(
      {subject: 'dv.maskin.cmd.provision', data: {server_id: 's', profile: 'p'}, actor: 'alice', tenant: 't1'},
      opts,
    )
    expect(m.problems).toEqual([])
    expect(m.envelope).toMatchObject({specversion: '1.0', source: 'sentral', actor: 'alice', tenant_id: 't1'})
    expect(m.envelope.correlation_id).toBe(m.envelope.id)
    expect(m.envelope).not.toHaveProperty('causation_id')
  })

  it('lists every problem at once and never throws', () => {
    const m = buildMessage({subject: 'dv.maskin.cmd.provision', data: 'nope', actor: ''}, opts)
    expect(m.problems.map((p) => p.code).sort()).toEqual(['data-not-object', 'missing-field'])
  })

  it('refuses a family the command does not send, and the server namespaces', () => {
    expect(buildMessage({subject: 'dv.rpc.sentral.ping', data: {}, actor: 'a'}, opts).problems[0].code).toBe(
      'forbidden-subject',
    )
    expect(buildMessage({subject: '$JS.API.INFO', data: {}, actor: 'a'}, opts).problems[0].code).toBe(
      'forbidden-subject',
    )
  })

  it('refuses a message over max_payload', () => {
    const m = buildMessage(
      {subject: 'dv.nett.cmd.apply', data: {network_id: 'n', note: 'x'.repeat(2000)}, actor: 'a'},
      {
        ...opts,
        maxPayload: 1024,
      },
    )
    expect(m.problems.map((p) => p.code)).toEqual(['too-large'])
  })
})

describe('worker naming', () => {
  it('turns actions into event verbs', () => {
    expect(['provision', 'apply', 'create', 'deploy', 'scale_out', 'failed'].map(pastTense)).toEqual([
      'provisioned',
      'applied',
      'created',
      'deployed',
      'scale_outed',
      'failed',
    ])
  })

  it('derives stable UUIDs from names', () => {
    expect(nameUuid('a')).toBe(nameUuid('a'))
    expect(nameUuid('a')).not.toBe(nameUuid('b'))
    expect(nameUuid('a')).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
  })

  it('passes a term reason only from nats-server 2.10.4', () => {
    expect(['2.9.10', '2.10.3', '2.10.4', '2.11.0', '3.0.0', undefined].map(supportsTermReason)).toEqual([
      false,
      false,
      true,
      true,
      true,
      false,
    ])
  })
})

describe('a type with no registered schema', () => {
  it('the known subjects of the built-in schemas are the ones defaultType maps to them', () => {
    const subjects = knownSubjects(registry, ['cmd', 'evt'])
    expect(subjects).toContain('dv.maskin.cmd.provision')
    expect(subjects).toContain('dv.nett.cmd.apply')
    expect(subjects).toContain('dv.maskin.evt.server.provisioned')
    expect(subjects).toContain('dv.plattform.evt.cluster.ready')
    expect(subjects.filter((s) => s.startsWith('dv.rpc.') || s.startsWith('dv.task.'))).toEqual([])
    for (const subject of subjects)
      expect(registry.versions(defaultType(parseSubject(subject), registry)!)).toEqual([1])
    expect(knownSubjects(registry, ['rpc'])).toContain('dv.rpc.identitet.introspect_token')
  })

  it('is a warning naming the nearest known subject; --strict makes it a problem', () => {
    const input = {subject: 'dv.maskin.cmd.provison', data: {server_id: 's'}, actor: 'alice'}
    const lax = buildMessage(input, opts)
    expect(lax.problems).toEqual([])
    expect(lax.warnings).toEqual([
      {
        path: '$.type',
        code: 'no-schema',
        message:
          'No payload schema is registered for type maskin.provison.requested; the payload was not checked. Did you mean dv.maskin.cmd.provision?',
      },
    ])
    const strict = buildMessage(input, {...opts, strict: true})
    expect(strict.problems.map((p) => p.code)).toEqual(['no-schema'])
  })

  it('a registered type and task events are not warned about', () => {
    const provision = buildMessage(
      {subject: 'dv.maskin.cmd.provision', data: {server_id: 's', profile: 'p'}, actor: 'alice'},
      {...opts, strict: true},
    )
    expect(provision.problems).toEqual([])
    expect(provision.warnings).toEqual([])
    const task = buildMessage(
      {subject: 'dv.task.evt.started', subjectId: 'tsk-1', data: {task_id: 'tsk-1', state: 'started'}, actor: 'a'},
      {...opts, strict: true},
    )
    expect(task.warnings.map((w) => w.code)).not.toContain('no-schema')
  })
})
