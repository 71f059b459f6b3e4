import {describe, expect, it} from 'vitest'

import {defaultPayloadRegistry} from '../../../src/lib/contract/registry.js'
import {buildMessage} from '../../../src/lib/publish/envelope.js'
import {nextCommands, type DemoSite, type DemoWorkflow} from '../../../src/lib/demo/run.js'
import {demoScenario, isPoison} from '../../../src/lib/demo/scenario.js'
import {selectorFor} from '../../../src/lib/demo/sites.js'

describe('demoScenario', () => {
  it('sends valid commands; the network change only with two sites, under one correlation', () => {
    const one = demoScenario({datacenters: ['osl1'], actor: 'ops@example'})
    expect(one.map((c) => c.kind)).toEqual(['provisioning', 'poison'])
    const two = demoScenario({datacenters: ['osl1', 'trd1'], actor: 'ops@example'})
    expect(two.map((c) => `${c.kind}@${c.siteIndex}`)).toEqual([
      'provisioning@0',
      'network-apply@0',
      'network-apply@1',
      'poison@0',
    ])
    expect(two[1].input.correlationId).toBe(two[2].input.correlationId)
    for (const c of two) {
      const message = buildMessage(c.input, {registry: defaultPayloadRegistry(), families: ['cmd'], otherCommand: '-'})
      expect(message.problems).toEqual([])
    }
    expect(two.filter((c) => isPoison(c.input.data as Record<string, unknown>)).map((c) => c.kind)).toEqual(['poison'])
  })

  it('uses fresh ids on every run', () => {
    const a = demoScenario({datacenters: ['osl1'], actor: 'x'})
    const b = demoScenario({datacenters: ['osl1'], actor: 'x'})
    expect(a[0].input.subjectId).not.toBe(b[0].input.subjectId)
  })
})

describe('selectorFor and nextCommands', () => {
  it('selects a site the way the demo was given it', () => {
    expect(selectorFor({name: 'osl1', servers: ['nats://a:4222']})).toEqual(['--site', 'osl1'])
    expect(selectorFor({name: 'local', servers: ['nats://127.0.0.1:4222'], byUrl: true})).toEqual([])
    expect(selectorFor({name: 'a:4222', servers: ['nats://a:4222']}, 'nats://a:4222')).toEqual([
      '--server',
      'nats://a:4222',
    ])
  })

  it('suggests commands with the real ids, quoted for the shell', () => {
    const sites = [{selector: []}] as unknown as DemoSite[]
    const workflow = {kind: 'provisioning', correlation_id: 'c-1'} as DemoWorkflow
    const next = nextCommands(sites, [workflow], 'DV_CMD:7')
    expect(next.map((n) => n.command)).toEqual([
      'dvctl workflow show c-1',
      'dvctl task watch --correlation c-1 --until-done',
      'dvctl dlq list',
      'dvctl dlq replay DV_CMD:7 --dry-run',
      'dvctl doctor',
    ])
  })
})
