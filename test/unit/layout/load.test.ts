import {mkdtemp, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {describe, expect, it} from 'vitest'

import {dataverketLayout} from '../../../src/lib/layout/dataverket.js'
import {loadLayout, readLayoutFile, subjectsOverlap, validateLayout} from '../../../src/lib/layout/load.js'
import {Layout} from '../../../src/lib/layout/schema.js'
import {UserError} from '../../../src/lib/errors.js'

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

describe('validateLayout', () => {
  it('accepts the built-in layout', () => {
    expect(validateLayout(dataverketLayout()).problems).toEqual([])
  })

  it('names the path of an unknown key', () => {
    const {problems} = validateLayout({streams: {DV_CMD: {subjects: ['dv.*.cmd.>'], max_agee: '14d'}}})
    expect(problems).toEqual([{path: 'streams.DV_CMD.max_agee', message: 'unknown key "max_agee"'}])
  })

  it('names the path of a bad duration, also inside a consumer backoff', () => {
    const {problems} = validateLayout({
      streams: {S: {subjects: ['s.>'], max_age: '14 fortnights', consumers: {c: {backoff: ['1s', 'soon']}}}},
    })
    expect(problems.map((p) => p.path)).toEqual(['streams.S.max_age', 'streams.S.consumers.c.backoff.1'])
    expect(problems[0].message).toMatch(/not a duration/)
  })

  it('rejects overlapping subjects between streams, also after a site override', () => {
    expect(
      validateLayout({streams: {A: {subjects: ['dv.*.cmd.>']}, B: {subjects: ['dv.maskin.cmd.x']}}}).problems,
    ).toEqual([{path: 'streams.B.subjects.0', message: '"dv.maskin.cmd.x" overlaps "dv.*.cmd.>" of stream A'}])
    const viaSite = validateLayout({
      streams: {A: {subjects: ['a.>']}},
      sites: {trd1: {streams: {B: {subjects: ['a.b']}}}},
    })
    expect(viaSite.problems).toEqual([
      {path: 'sites.trd1.streams.B.subjects.0', message: '"a.b" overlaps "a.>" of stream A'},
    ])
  })

  it('rejects a bad enum value with its path', () => {
    const {problems} = validateLayout({streams: {A: {subjects: ['a'], retention: 'forever'}}})
    expect(problems[0].path).toBe('streams.A.retention')
  })
})

describe('loadLayout', () => {
  it('returns the built-in layout without a file', async () => {
    expect(await loadLayout()).toEqual(Layout.parse(dataverketLayout()))
  })

  it('reads YAML and JSON', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'dvctl-layout-'))
    await writeFile(join(dir, 'l.yaml'), 'streams:\n  A:\n    subjects: ["a.>"]\n    max_age: 1h\n')
    await writeFile(join(dir, 'l.json'), JSON.stringify({kv: {b: {history: 5}}}))
    expect((await loadLayout(join(dir, 'l.yaml'))).streams.A).toEqual({subjects: ['a.>'], max_age: '1h'})
    expect((await loadLayout(join(dir, 'l.json'))).kv.b).toEqual({history: 5})
  })

  it('gives a YAML syntax error its line, and an invalid file exit 2', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'dvctl-layout-'))
    await writeFile(join(dir, 'bad.yaml'), 'streams:\n  A: [unclosed\n')
    const {problems} = await readLayoutFile(join(dir, 'bad.yaml'))
    expect(problems[0].path).toMatch(/^line \d+, column \d+$/)
    const error = await loadLayout(join(dir, 'bad.yaml')).catch((e) => e)
    expect(error).toBeInstanceOf(UserError)
    expect(error.exitCode).toBe(2)
  })
})

describe('validateLayout reports every problem at once', () => {
  it('lists overlapping subjects beside schema problems', () => {
    const {problems} = validateLayout({
      streams: {A: {subjects: ['dv.*.cmd.>'], max_agee: '1d'}, B: {subjects: ['dv.maskin.cmd.>']}},
    })
    expect(problems.map((p) => p.path)).toEqual(['streams.A.max_agee', 'streams.B.subjects.0'])
  })
})
