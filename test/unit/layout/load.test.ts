import {mkdtemp, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {describe, expect, it} from 'vitest'

import {dataverketLayout} from '../../../src/lib/layout/dataverket.js'
import {subjectsOverlap} from '../../../src/lib/contract/match.js'
import {loadLayout, readLayoutFile, validateLayout} from '../../../src/lib/layout/load.js'
import {Layout} from '../../../src/lib/layout/schema.js'
import {UserError} from '../../../src/lib/errors.js'

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

describe('duplicate keys', () => {
  it.each([
    ['YAML', 'streams:\n  A:\n    subjects: [a]\n  A:\n    subjects: [b]\n', 'line 4, column 3'],
    ['JSON', '{"streams": {"A": {"subjects": ["a"]},\n "A": {"subjects": ["b"]}}}', 'line 2, column 2'],
    ['nested', 'streams:\n  A:\n    subjects: [a]\n    max_age: 1d\n    max_age: 2d\n', 'line 5, column 5'],
  ])('are refused in %s with their line and column', async (_what, text, where) => {
    const dir = await mkdtemp(join(tmpdir(), 'dvctl-layout-'))
    await writeFile(join(dir, 'dup.yaml'), text)
    expect((await readLayoutFile(join(dir, 'dup.yaml'))).problems).toEqual([
      {path: where, message: 'Map keys must be unique'},
    ])
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

describe('an empty layout file is refused, never read as "no streams"', () => {
  it.each([
    ['0 bytes', ''],
    ['blanks and newlines', '  \n\t\n   \n'],
    ['only comments', '# nothing here yet\n\n'],
  ])('%s', async (_what, text) => {
    const dir = await mkdtemp(join(tmpdir(), 'dvctl-layout-'))
    const file = join(dir, 'empty.yaml')
    await writeFile(file, text)
    const {layout, problems} = await readLayoutFile(file)
    expect(layout).toBeUndefined()
    expect(problems).toEqual([{path: '(top level)', message: expect.stringContaining('the file is empty')}])
    const error = await loadLayout(file).catch((e) => e)
    expect(error).toBeInstanceOf(UserError)
    expect(error.exitCode).toBe(2)
  })
})

describe('overlap checks over large layouts', () => {
  it('validates 6,000 streams and finds the one overlap among them, with its path', () => {
    const streams: Record<string, {subjects: string[]}> = {}
    for (let i = 0; i < 6000; i++) streams[`S_${i}`] = {subjects: [`orders.${i}.>`, `audit.${i}.*`, `dv.s${i}.cmd.>`]}
    expect(validateLayout({layout: 'big', streams})).toMatchObject({problems: [], layout: {layout: 'big'}})
    expect(Object.keys(validateLayout({streams}).layout!.streams)).toHaveLength(6000)

    streams.S_5999.subjects.push('orders.17.created')
    streams.LATE = {subjects: ['audit.*.x']}
    const {problems} = validateLayout({streams})
    expect(problems).toHaveLength(6001)
    expect(problems).toContainEqual({
      path: 'streams.S_5999.subjects.3',
      message: '"orders.17.created" overlaps "orders.17.>" of stream S_17',
    })
    expect(problems.filter((p) => p.path === 'streams.LATE.subjects.0')).toHaveLength(6000)
  })

  it('finds exactly the pairs the pairwise comparison finds, in the same order', () => {
    // A deterministic pseudo-random mix of literals and wildcards over a small token alphabet.
    let seed = 7
    const next = (n: number) => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31
      return seed % n
    }
    const tokens = ['a', 'b', 'c', '*']
    const subject = () => {
      const length = 1 + next(4)
      const parts = Array.from({length}, () => tokens[next(tokens.length)])
      if (next(3) === 0) parts.push('>')
      return parts.join('.')
    }
    for (let round = 0; round < 20; round++) {
      const streams: Record<string, {subjects: string[]}> = {}
      for (let i = 0; i < 12; i++) streams[`S${i}`] = {subjects: [subject(), subject()]}
      const entries = Object.entries(streams).flatMap(([name, s]) =>
        s.subjects.map((subject, index) => ({name, subject, index})),
      )
      const expected: string[] = []
      const seen = new Set<string>()
      for (let i = 0; i < entries.length; i++) {
        for (let j = i + 1; j < entries.length; j++) {
          const [p, q] = [entries[i], entries[j]]
          if (p.name === q.name || !subjectsOverlap(p.subject, q.subject)) continue
          const key = [p.name, p.subject, q.name, q.subject].join('|')
          if (seen.has(key)) continue
          seen.add(key)
          expected.push(
            `streams.${q.name}.subjects.${q.index}: "${q.subject}" overlaps "${p.subject}" of stream ${p.name}`,
          )
        }
      }
      const found = validateLayout({streams}).problems.map((p) => `${p.path}: ${p.message}`)
      expect(found).toEqual(expected)
    }
  })
})
