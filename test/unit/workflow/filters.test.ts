import {describe, expect, it} from 'vitest'

import {parseAdvisory, toDeadLetter} from '../../../src/lib/workflow/dead-letters.js'
import {correlationNeedle, toWorkflowMessage} from '../../../src/lib/workflow/read.js'
import {familiesOf, planStreams, toTailEvent} from '../../../src/lib/workflow/tail.js'
import {resolveWindow} from '../../../src/lib/workflow/window.js'

const stored = (subject: string, body: unknown) => ({
  site: 'osl1',
  stream: 'DV_CMD',
  seq: 7,
  subject,
  time: '2026-03-14T09:00:00.000Z',
  data: Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)),
})

const valid = {
  specversion: '1.0',
  id: 'm-1',
  type: 'maskin.server.provision.requested',
  source: 'sentral',
  time: '2026-03-14T09:00:01Z',
  actor: 'user:a',
  correlation_id: 'c-1',
  tenant_id: 'acme',
  data: {server_id: 's', profile: 'small'},
}

describe('familiesOf and planStreams', () => {
  it('knows which families a subject filter can reach', () => {
    expect(familiesOf('dv.maskin.cmd.provision')).toEqual(['cmd'])
    expect(familiesOf('dv.maskin.>')).toEqual(['cmd', 'evt'])
    expect(familiesOf('dv.*.evt.>')).toEqual(['evt', 'task'])
    expect(familiesOf('dv.task.evt.failed')).toEqual(['task'])
    expect(familiesOf('dv.rpc.identitet.introspect_token')).toEqual(['rpc'])
    expect(familiesOf('dv.>')).toEqual(['cmd', 'evt', 'task', 'rpc'])
    expect(familiesOf('other.x')).toEqual([])
  })

  it('uses a server-side filter only when it stays inside one stream', () => {
    expect(planStreams({subject: 'dv.maskin.cmd.provision'}).streams).toEqual([
      {family: 'cmd', stream: 'DV_CMD', filterSubject: 'dv.maskin.cmd.provision'},
    ])
    expect(planStreams({subject: 'dv.*.evt.>'}).streams).toEqual([
      {family: 'evt', stream: 'DV_EVT'},
      {family: 'task', stream: 'DV_TASK'},
    ])
    expect(planStreams({service: 'nett'}).streams).toEqual([
      {family: 'cmd', stream: 'DV_CMD', filterSubject: 'dv.nett.cmd.>'},
      {family: 'evt', stream: 'DV_EVT', filterSubject: 'dv.nett.evt.>'},
      {family: 'task', stream: 'DV_TASK'},
    ])
    expect(planStreams({family: 'rpc'})).toEqual({streams: [], rpc: true})
    expect(planStreams({}).streams.map((s) => s.stream)).toEqual(['DV_CMD', 'DV_EVT', 'DV_TASK'])
  })
})

describe('toTailEvent', () => {
  it('passes a valid envelope that matches every filter', () => {
    const event = toTailEvent(stored('dv.maskin.cmd.provision', valid), {
      correlationId: 'c-1',
      tenant: 'acme',
      type: 'maskin.*',
    })
    expect(event).toMatchObject({kind: 'message', site: 'osl1', stream: 'DV_CMD', seq: 7, envelope: valid})
  })

  it('drops a message of another correlation, tenant, type or service', () => {
    const s = stored('dv.maskin.cmd.provision', valid)
    expect(toTailEvent(s, {correlationId: 'c-2'})).toBeNull()
    expect(toTailEvent(s, {tenant: 'other'})).toBeNull()
    expect(toTailEvent(s, {type: 'maskin.server.provisioned'})).toBeNull()
    expect(toTailEvent(s, {service: 'nett'})).toBeNull()
    expect(toTailEvent(s, {subject: 'dv.nett.>'})).toBeNull()
  })

  it('turns non-JSON and contract violations into invalid events with problems', () => {
    expect(toTailEvent(stored('dv.maskin.cmd.provision', '{oops'), {})).toMatchObject({
      kind: 'invalid',
      invalid: true,
      raw: '{oops',
      problems: [expect.objectContaining({code: 'not-json'})],
    })
    const {correlation_id: _c, ...noCorrelation} = valid
    expect(toTailEvent(stored('dv.maskin.cmd.provision', noCorrelation), {})).toMatchObject({
      kind: 'invalid',
      problems: [expect.objectContaining({code: 'missing-correlation'})],
    })
  })
})

describe('reading helpers', () => {
  it('matches the correlation exactly after the byte pre-filter', () => {
    expect(correlationNeedle('c-1')).toEqual(Buffer.from('c-1'))
    expect(toWorkflowMessage(stored('dv.maskin.cmd.provision', valid), 'c-1')).toMatchObject({
      id: 'm-1',
      causation_id: null,
      time: '2026-03-14T09:00:01.000Z',
    })
    expect(toWorkflowMessage(stored('dv.maskin.cmd.provision', {...valid, correlation_id: 'c-10'}), 'c-1')).toBeNull()
    expect(toWorkflowMessage(stored('dv.maskin.cmd.provision', 'not json c-1'), 'c-1')).toBeNull()
  })

  it('decodes advisories and attributes them only to their own domain', () => {
    const advisory = parseAdvisory(
      Buffer.from(
        JSON.stringify({
          type: 'io.nats.jetstream.advisory.v1.terminated',
          stream: 'DV_CMD',
          consumer: 'nett',
          stream_seq: 5,
          deliveries: 2,
          domain: 'trd1',
        }),
      ),
    )!
    expect(advisory).toMatchObject({stream: 'DV_CMD', stream_seq: 5, consumer: 'nett'})
    const where = {...stored('$JS.EVENT.ADVISORY.CONSUMER.MSG_TERMINATED.DV_CMD.nett', ''), stream: 'DV_DLQ', seq: 3}
    expect(toDeadLetter(advisory, where, 'm-1', 'trd1', false)).toMatchObject({
      ref: 'DV_CMD:5',
      reason: 'terminated',
      deliveries: 2,
      id: 'm-1',
    })
    expect(toDeadLetter(advisory, where, 'm-1', 'osl1', true)).toBeNull()
    expect(parseAdvisory(Buffer.from('{"type":"other","stream":"X","stream_seq":1}'))).toBeNull()
  })
})

describe('resolveWindow', () => {
  const now = Date.UTC(2026, 2, 14, 12)
  it('defaults to the last 24h; --since 0 reads everything', () => {
    expect(resolveWindow({}, now)).toEqual({from: new Date(now - 86_400_000)})
    expect(resolveWindow({since: 0}, now)).toEqual({})
  })
  it('takes --from/--to as RFC 3339 and refuses nonsense', () => {
    expect(resolveWindow({from: '2026-03-14T09:00:00Z', to: '2026-03-14T10:00:00Z'}, now)).toEqual({
      from: new Date('2026-03-14T09:00:00Z'),
      to: new Date('2026-03-14T10:00:00Z'),
    })
    expect(() => resolveWindow({from: 'yesterday'}, now)).toThrow(/Invalid --from/)
    expect(() => resolveWindow({from: '2026-03-14T10:00:00Z', to: '2026-03-14T09:00:00Z'}, now)).toThrow(/after/)
  })
})
