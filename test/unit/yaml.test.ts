import * as YAML from 'yaml'
import {describe, expect, it} from 'vitest'

import {MAX_YAML_DEPTH, parseYamlDocument} from '../../src/lib/yaml.js'

const flow = (n: number) => '['.repeat(n) + ']'.repeat(n)
const blockMap = (n: number) => Array.from({length: n}, (_, i) => `${' '.repeat(i)}k${i}:`).join('\n') + ' 1\n'
const compactSeq = (n: number) => '- '.repeat(n) + 'x\n'

describe('parseYamlDocument', () => {
  it('builds a document nested as deep as the limit, as parseDocument does', () => {
    for (const text of [flow(MAX_YAML_DEPTH), blockMap(MAX_YAML_DEPTH), compactSeq(MAX_YAML_DEPTH)]) {
      const doc = parseYamlDocument(YAML, text)
      expect(doc.errors).toEqual([])
      expect(doc.toJS()).toEqual(YAML.parseDocument(text).toJS())
    }
  })

  it('refuses one level more before building it, at the collection that is too deep', () => {
    const cases: Array<[string, number]> = [
      [flow(MAX_YAML_DEPTH + 1), MAX_YAML_DEPTH],
      [`{"a": ${flow(MAX_YAML_DEPTH)}}`, 6 + MAX_YAML_DEPTH - 1],
      [compactSeq(MAX_YAML_DEPTH + 1), 2 * MAX_YAML_DEPTH],
    ]
    for (const [text, offset] of cases) {
      const doc = parseYamlDocument(YAML, text)
      expect(doc.errors.map((e) => [e.code, e.pos[0], e.message])).toEqual([
        ['RESOURCE_EXHAUSTION', offset, `Collections nested deeper than ${MAX_YAML_DEPTH} levels`],
      ])
      expect(doc.contents).toBeNull()
    }
    const lineCounter = new YAML.LineCounter()
    const doc = parseYamlDocument(YAML, blockMap(MAX_YAML_DEPTH + 1), {lineCounter})
    expect(doc.errors[0].code).toBe('RESOURCE_EXHAUSTION')
    expect(lineCounter.linePos(doc.errors[0].pos[0])).toEqual({line: MAX_YAML_DEPTH + 1, col: MAX_YAML_DEPTH + 1})
  })

  it('refuses a hostile depth without building any of it', () => {
    // yaml.parseDocument would recurse into each level until the stack runs out; not called here, since
    // running out of stack at the wrong moment ends the process.
    const doc = parseYamlDocument(YAML, flow(100_000))
    expect(doc.errors.map((e) => [e.code, e.pos[0]])).toEqual([['RESOURCE_EXHAUSTION', MAX_YAML_DEPTH]])
  })

  it('keeps the errors parseDocument reports, plainly worded for a second document', () => {
    const dup = parseYamlDocument(YAML, 'a: 1\na: 2\n', {uniqueKeys: true})
    expect(dup.errors.map((e) => e.code)).toEqual(['DUPLICATE_KEY'])
    const syntax = parseYamlDocument(YAML, 'streams: [\n')
    expect(syntax.errors.map((e) => e.code)).toEqual(YAML.parseDocument('streams: [\n').errors.map((e) => e.code))
    const two = parseYamlDocument(YAML, 'a: 1\n---\nb: 2\n')
    expect(two.errors.map((e) => [e.code, e.pos[0], e.message])).toEqual([
      ['MULTIPLE_DOCS', 5, 'More than one YAML document (a line "---" starts another); the file must hold one'],
    ])
    expect(two.toJS()).toEqual({a: 1})
    expect(parseYamlDocument(YAML, '').toJS()).toBeNull()
  })
})
