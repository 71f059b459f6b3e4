import {describe, expect, it} from 'vitest'

import {filterCovers, subjectMatches, subjectsOverlap, typeMatcher} from '../../../src/lib/contract/match.js'

describe('subjectMatches', () => {
  it.each([
    ['dv.>', 'dv.maskin.cmd.provision', true],
    ['dv.*.cmd.>', 'dv.maskin.cmd.provision', true],
    ['dv.*.cmd.>', 'dv.maskin.evt.server.provisioned', false],
    ['dv.task.evt.*', 'dv.task.evt.failed', true],
    ['dv.task.evt.*', 'dv.task.evt', false],
    ['dv.maskin.cmd.provision', 'dv.maskin.cmd.provision', true],
    ['dv.maskin.cmd.>', 'dv.maskin.cmd', false],
  ])('%s matches %s: %s', (filter, subject, expected) => {
    expect(subjectMatches(filter, subject)).toBe(expected)
  })
})

describe('filterCovers', () => {
  it('tells whether a stream subject captures every subject of a filter', () => {
    const advisory = '$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.>'
    expect(filterCovers(advisory, advisory)).toBe(true)
    expect(filterCovers('$JS.EVENT.ADVISORY.>', advisory)).toBe(true)
    expect(filterCovers('$JS.EVENT.ADVISORY.CONSUMER.*.>', advisory)).toBe(true)
    expect(filterCovers('$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.DV_CMD.*', advisory)).toBe(false)
    expect(filterCovers('$JS.EVENT.ADVISORY.CONSUMER.MSG_TERMINATED.>', advisory)).toBe(false)
    expect(filterCovers('dv.*.cmd.>', 'dv.maskin.cmd.provision')).toBe(true)
    expect(filterCovers('dv.*.cmd', 'dv.maskin.cmd.provision')).toBe(false)
    expect(filterCovers('>', 'a')).toBe(true)
  })
})

describe('subjectsOverlap', () => {
  it.each([
    ['dv.*.cmd.>', 'dv.maskin.cmd.provision', true],
    ['dv.*.cmd.>', 'dv.maskin.evt.>', false],
    ['dv.task.evt.>', 'dv.*.evt.>', true],
    ['dv.task.evt.>', 'dv.maskin.evt.>', false],
    ['a.>', 'a', false],
    ['a.*', 'a.b.c', false],
    ['>', 'x.y', true],
    ['a.b', 'a.b', true],
  ])('%s vs %s: %s', (a, b, overlap) => {
    expect(subjectsOverlap(a, b)).toBe(overlap)
    expect(subjectsOverlap(b, a)).toBe(overlap)
  })
})

describe('typeMatcher: the one meaning of --type', () => {
  it('matches types with * wildcards', () => {
    expect(typeMatcher('maskin.*')('maskin.server.provision.requested')).toBe(true)
    expect(typeMatcher('maskin.*')('nett.apply.requested')).toBe(false)
    expect(typeMatcher('maskin.server.provision.requested')('maskin.server.provision.requested')).toBe(true)
  })

  it('lets * stand for any run of characters, dots included, anywhere in the pattern', () => {
    expect(typeMatcher('maskin.server.*')('maskin.server.provision.requested')).toBe(true)
    expect(typeMatcher('maskin.server.*')('maskin.server.provisioned')).toBe(true)
    expect(typeMatcher('*.failed')('task.failed')).toBe(true)
    expect(typeMatcher('*.failed')('task.failed.twice')).toBe(false)
    expect(typeMatcher('maskin.*.requested')('maskin.server.provision.requested')).toBe(true)
  })

  it('takes every other character literally and never matches a value that is not a string', () => {
    expect(typeMatcher('maskin.server')('maskinXserver')).toBe(false)
    expect(typeMatcher('maskin.>')('maskin.server.provisioned')).toBe(false)
    expect(typeMatcher('a+b*')('a+bc')).toBe(true)
    expect(typeMatcher('*')(undefined)).toBe(false)
    expect(typeMatcher('maskin.*')(42)).toBe(false)
  })
})
