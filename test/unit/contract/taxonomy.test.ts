import {describe, expect, it} from 'vitest'

import {SubjectAnalysis} from '../../../src/lib/contract/subject-schema.js'
import {forbiddenPublishSubject, isSubjectFilterInTaxonomy, parseSubject} from '../../../src/lib/contract/taxonomy.js'

describe('parseSubject: the ADR examples', () => {
  it.each([
    ['dv.maskin.cmd.provision', {family: 'cmd', service: 'maskin', action: 'provision'}],
    ['dv.maskin.evt.server.provisioned', {family: 'evt', service: 'maskin', entity: 'server', verb: 'provisioned'}],
    ['dv.nett.cmd.apply', {family: 'cmd', service: 'nett', action: 'apply'}],
    ['dv.plattform.evt.cluster.ready', {family: 'evt', service: 'plattform', entity: 'cluster', verb: 'ready'}],
    ['dv.task.evt.updated', {family: 'task', service: null, verb: 'updated'}],
    ['dv.rpc.identitet.introspect_token', {family: 'rpc', service: 'identitet', operation: 'introspect_token'}],
  ])('%s is valid', (subject, parts) => {
    const a = parseSubject(subject)
    expect(SubjectAnalysis.parse(a)).toEqual(a)
    expect(a.problems).toEqual([])
    expect(a.valid).toBe(true)
    expect(a).toMatchObject({subject, ...parts})
  })

  it('every task verb of the ADR is valid without warnings', () => {
    for (const verb of ['created', 'queued', 'started', 'progress', 'succeeded', 'failed', 'cancelled']) {
      expect(parseSubject(`dv.task.evt.${verb}`, {strict: true})).toMatchObject({valid: true, warnings: [], verb})
    }
  })

  it('accepts every service identity in every service family', () => {
    for (const s of ['sentral', 'identitet', 'maskin', 'plattform', 'tjeneste', 'objekt', 'nett']) {
      expect(parseSubject(`dv.${s}.cmd.do_it`).valid).toBe(true)
      expect(parseSubject(`dv.${s}.evt.thing2.happened`).valid).toBe(true)
      expect(parseSubject(`dv.rpc.${s}.ask`).valid).toBe(true)
    }
  })
})

describe('parseSubject: invalid subjects', () => {
  it.each([
    ['', 'empty-subject'],
    ['dv.foo.cmd.provision', 'unknown-service'],
    ['dv.maskinen.evt.server.provisioned', 'unknown-service'],
    ['dv.rpc.foo.introspect', 'unknown-service'],
    ['dv.maskin.cmd', 'wrong-token-count'],
    ['dv.maskin.cmd.provision.now', 'wrong-token-count'],
    ['dv.maskin.evt.server', 'wrong-token-count'],
    ['dv.maskin.evt.server.provisioned.late', 'wrong-token-count'],
    ['dv.task.evt', 'wrong-token-count'],
    ['dv.task.evt.created.again', 'wrong-token-count'],
    ['dv.rpc.identitet', 'wrong-token-count'],
    ['dv.rpc.identitet.introspect.token', 'wrong-token-count'],
    ['dv.maskin', 'wrong-token-count'],
    ['dv', 'wrong-token-count'],
    ['dv.Maskin.cmd.provision', 'bad-token'],
    ['dv.maskin.cmd.Provision', 'bad-token'],
    ['dv.maskin.cmd.pro-vision', 'bad-token'],
    ['dv.maskin.cmd.1st', 'bad-token'],
    ['dv.maskin.cmd.prov*', 'bad-token'],
    ['dv.maskin.cmd.provision ', 'bad-token'],
    ['dv.maskin..provision', 'empty-token'],
    ['dv.maskin.cmd.', 'empty-token'],
    ['.dv.maskin.cmd.provision', 'empty-token'],
    ['dv.maskin.cmd.*', 'wildcard-not-allowed'],
    ['dv.*.cmd.provision', 'wildcard-not-allowed'],
    ['dv.maskin.evt.>', 'wildcard-not-allowed'],
    ['maskin.cmd.provision', 'missing-prefix'],
    ['DV.maskin.cmd.provision', 'missing-prefix'],
    ['$JS.API.STREAM.INFO.DV_CMD', 'missing-prefix'],
    ['dv.task.cmd.run', 'reserved-service'],
    ['dv.task.rpc.run', 'reserved-service'],
    ['dv.rpc.task.status', 'reserved-service'],
    ['dv.rpc.rpc.call', 'reserved-service'],
    ['dv.rpc.cmd.call', 'reserved-service'],
    ['dv.maskin.task.created', 'reserved-service'],
    ['dv.maskin.rpc.introspect', 'reserved-service'],
    ['dv.maskin.req.provision', 'unknown-family'],
  ])('%j is rejected with %s', (subject, code) => {
    const a = parseSubject(subject)
    expect(a.valid).toBe(false)
    expect(a.problems.map((p) => p.code)).toContain(code)
    for (const p of a.problems) {
      expect(p.path).toBe('subject')
      expect(p.message.length).toBeGreaterThan(10)
    }
  })

  it('reports every bad token, not just the first', () => {
    const a = parseSubject('dv.Maskin..X')
    expect(a.problems.map((p) => p.code)).toEqual(['bad-token', 'empty-token', 'bad-token'])
  })
})

describe('parseSubject: task verbs', () => {
  it('an unknown task verb is a warning, and an error under strict', () => {
    const lax = parseSubject('dv.task.evt.paused')
    expect(lax.valid).toBe(true)
    expect(lax.warnings.map((w) => w.code)).toEqual(['unknown-task-verb'])
    const strict = parseSubject('dv.task.evt.paused', {strict: true})
    expect(strict.valid).toBe(false)
    expect(strict.problems.map((p) => p.code)).toEqual(['unknown-task-verb'])
    expect(strict.warnings).toEqual([])
  })
})

describe('parseSubject: filters', () => {
  it.each([
    ['dv.>', null],
    ['dv.*.cmd.>', 'cmd'],
    ['dv.maskin.cmd.*', 'cmd'],
    ['dv.maskin.evt.>', 'evt'],
    ['dv.*.evt.*.*', 'evt'],
    ['dv.task.evt.*', 'task'],
    ['dv.task.evt.>', 'task'],
    ['dv.rpc.*.*', 'rpc'],
    ['dv.rpc.identitet.>', 'rpc'],
    ['dv.maskin.>', null],
    ['dv.maskin.*.>', null],
  ])('%s is a valid filter (family %s)', (filter, family) => {
    const a = parseSubject(filter, {allowWildcards: true})
    expect(a.problems).toEqual([])
    expect(a).toMatchObject({valid: true, family, filter: true})
    expect(isSubjectFilterInTaxonomy(filter)).toBe(true)
  })

  it.each([
    ['dv.maskin.cmd.provision.>', 'wrong-token-count'],
    ['dv.task.evt.*.*', 'wrong-token-count'],
    ['dv.*', 'wrong-token-count'],
    ['dv.>.cmd.provision', 'bad-wildcard'],
    ['dv.maskin.>.provision', 'bad-wildcard'],
    ['>', 'missing-prefix'],
    ['*.maskin.cmd.provision', 'missing-prefix'],
    ['dv.foo.cmd.>', 'unknown-service'],
    ['dv.task.cmd.*', 'reserved-service'],
  ])('%s is not a sane filter (%s)', (filter, code) => {
    const a = parseSubject(filter, {allowWildcards: true})
    expect(a.valid).toBe(false)
    expect(a.problems.map((p) => p.code)).toContain(code)
    expect(isSubjectFilterInTaxonomy(filter)).toBe(false)
  })

  it('a concrete subject is still valid with allowWildcards', () => {
    expect(parseSubject('dv.nett.cmd.apply', {allowWildcards: true})).toMatchObject({valid: true, family: 'cmd'})
    expect(parseSubject('dv.nett.cmd.apply', {allowWildcards: true}).filter).toBeUndefined()
  })
})

describe('forbiddenPublishSubject', () => {
  it.each(['$JS.API.STREAM.DELETE.DV_CMD', '$SYS.REQ.SERVER.PING', '$KV.dv_dlq_ledger.x', '_INBOX.abc', '$js.api.x'])(
    'refuses %s',
    (subject) => {
      expect(forbiddenPublishSubject(subject)).toMatchObject({path: 'subject', code: 'forbidden-subject'})
    },
  )
  it.each(['dv.maskin.cmd.provision', 'dv.task.evt.failed', 'JS.API.x', 'inbox.x'])('allows %s', (subject) => {
    expect(forbiddenPublishSubject(subject)).toBeUndefined()
  })
})
