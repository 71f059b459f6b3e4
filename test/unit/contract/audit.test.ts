import {describe, expect, it} from 'vitest'

import {AuditTally, MAX_GROUPS, openCommand} from '../../../src/lib/contract/audit.js'
import {validateEnvelope} from '../../../src/lib/contract/envelope.js'
import type {StoredMessage} from '../../../src/lib/nats/reader.js'
import {provisionCommand, VALID_EXAMPLES} from './fixtures.js'

const warningCodes = (r: {warnings: Array<{code: string}>}) => r.warnings.map((w) => w.code)

describe('validateEnvelope: the advisory rules', () => {
  it.each(VALID_EXAMPLES)('$name passes them', ({subject, envelope}) => {
    expect(validateEnvelope(envelope, {subject, advisory: true})).toEqual({valid: true, problems: [], warnings: []})
  })

  it('an event without causation_id is reported, unless it opens its own workflow; a command never', () => {
    const event = {...VALID_EXAMPLES[1].envelope}
    delete event.causation_id
    const subject = 'dv.maskin.evt.server.provisioned'
    expect(warningCodes(validateEnvelope(event, {subject, advisory: true}))).toEqual(['missing-causation'])
    expect(warningCodes(validateEnvelope({...event, correlation_id: event.id}, {subject, advisory: true}))).toEqual([])
    // Off by default: no other command sees it.
    expect(validateEnvelope(event, {subject})).toEqual({valid: true, problems: [], warnings: []})
    expect(
      warningCodes(validateEnvelope(provisionCommand(), {subject: 'dv.maskin.cmd.provision', advisory: true})),
    ).toEqual([])
  })

  it('a type with no registered schema is no-schema; task events always have one', () => {
    const unknown = provisionCommand({type: 'maskin.server.rebooted', data: {}})
    expect(warningCodes(validateEnvelope(unknown, {advisory: true}))).toEqual(['no-schema'])
  })
})

let seq = 0
function stored(body: unknown, subject = 'dv.maskin.cmd.provision', time = '2026-03-14T09:30:00.000Z'): StoredMessage {
  return {
    site: 'osl1',
    stream: 'DV_CMD',
    seq: ++seq,
    subject,
    time,
    data: Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)),
  }
}

const window = {}
const result = (tally: AuditTally) => tally.result({window, streams: ['DV_CMD'], sites: [{site: 'osl1'}], failOver: 5})

describe('AuditTally', () => {
  it('counts each rule once per message and keeps the earliest and latest offender by stored time', () => {
    const tally = new AuditTally()
    const late = stored(
      provisionCommand({correlation_id: undefined, time: 'yesterday'}),
      undefined,
      '2026-03-14T10:00:00.000Z',
    )
    const early = stored(provisionCommand({correlation_id: undefined}), undefined, '2026-03-14T08:00:00.000Z')
    tally.add(late)
    tally.add(early)
    tally.add(stored(provisionCommand()))
    const r = result(tally)
    const row = r.types[0]
    expect(row).toMatchObject({service: 'sentral', type: 'maskin.server.provision.requested', seen: 3, failing: 2})
    expect(row.rules.correlation).toMatchObject({messages: 2, percent: 66.67, codes: {'missing-correlation': 2}})
    expect(row.rules.correlation.first?.seq).toBe(early.seq)
    expect(row.rules.correlation.last?.seq).toBe(late.seq)
    expect(row.rules.time.messages).toBe(1)
    expect(r.services[0]).toMatchObject({service: 'sentral', percent: 66.67, over: true})
    expect(r.over).toEqual(['sentral'])
  })

  it('a body that is not UTF-8 is binary data; one that is not JSON breaks the envelope; neither crashes', () => {
    const tally = new AuditTally()
    tally.add({...stored(''), data: new Uint8Array([0xff, 0xfe, 0x00])})
    tally.add(stored('not json'))
    const row = result(tally).types[0]
    expect(row).toMatchObject({service: '(unknown)', type: '(none)', seen: 2, failing: 2})
    expect(row.rules.size.codes).toEqual({'bad-utf8': 1})
    expect(row.rules.envelope.codes).toEqual({'not-json': 1})
  })

  it('keeps only --service, and bounds the groups a hostile bus can make', () => {
    const only = new AuditTally({services: ['maskin']})
    only.add(stored(provisionCommand()))
    expect(result(only)).toMatchObject({scanned: 1, audited: 0, types: []})

    const tally = new AuditTally()
    for (let i = 0; i < MAX_GROUPS + 50; i++) tally.add(stored(provisionCommand({type: `maskin.t${i}.x`})))
    tally.add(stored(provisionCommand({source: 'billing-' + 'x'.repeat(200)})))
    const r = result(tally)
    expect(r.truncated).toBe(true)
    expect(r.types.length).toBeLessThanOrEqual(MAX_GROUPS + 2)
    expect(r.types.find((t) => t.type === '(other)' && t.service === 'sentral')?.seen).toBe(50)
    expect(r.types.find((t) => t.service === '(other)')?.seen).toBe(1)
  })

  it('opens a reference by its workflow only when the correlation_id is a plain word', () => {
    const ref = {site: 'osl1', stream: 'DV_CMD', seq: 7, time: '2026-03-14T09:30:00.123Z', subject: 'dv.nett.cmd.apply'}
    expect(openCommand({...ref, correlation_id: 'wf-7f3a'})).toBe('dvctl workflow show wf-7f3a --site osl1')
    expect(openCommand({...ref, correlation_id: 'x; rm -rf /'})).toBe(
      'dvctl tail --site osl1 --subject dv.nett.cmd.apply --from 2026-03-14T09:30:00.123Z --to 2026-03-14T09:30:00.123Z',
    )
    expect(openCommand({...ref, subject: 'dv.$(id)'})).toBe(
      'dvctl tail --site osl1 --from 2026-03-14T09:30:00.123Z --to 2026-03-14T09:30:00.123Z',
    )
  })
})
