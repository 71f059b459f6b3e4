import {describe, expect, it} from 'vitest'

import {columnWidths, displayWidth, layoutTable, shownColumns, truncate} from '../../../src/lib/render/table.js'

const UUID = '0b5f3c2e-8d7a-4c1b-9e6f-2a4d8c1e7f90'
const FAILURE = 'provisioning failed: '.repeat(15)

describe('table layout', () => {
  it('measures terminal columns, not code units: colour codes take none, wide characters two', () => {
    expect(displayWidth('\u001b[31mred\u001b[39m')).toBe(3)
    expect(displayWidth('数据')).toBe(4)
    expect(displayWidth('e\u0301')).toBe(1)
  })

  it('cuts with an ellipsis within the width, dropping colour from a cut cell', () => {
    expect(truncate('abcdefghij', 6)).toBe('abcde…')
    expect(displayWidth(truncate('数据数据数据', 5))).toBeLessThanOrEqual(5)
    expect(truncate('\u001b[31mabcdefghij\u001b[39m', 4)).toBe('abc…')
    expect(truncate('short', 10)).toBe('short')
  })

  it('fits a dead-letter-like table into 80 columns, one line per row, ids keeping a prefix', () => {
    const columns = [
      {header: 'REF', fit: 'fixed' as const},
      {header: 'CORRELATION', fit: 'id' as const},
      {header: 'DELIVERIES', fit: 'fixed' as const, align: 'right' as const},
      {header: 'FAILURE'},
    ]
    const rows = Array.from({length: 5}, (_, i) => [`s1:DV_DLQ:${i + 1}`, UUID, '5', FAILURE])
    const lines = layoutTable(columns, rows, {width: 80})
    expect(lines).toHaveLength(6)
    for (const line of lines) expect(displayWidth(line)).toBeLessThanOrEqual(80)
    expect(lines[1]).toContain(UUID.slice(0, 7))
    expect(lines[1]).toContain('…')
    expect(lines[0].startsWith('REF')).toBe(true)
  })

  it('gives way from the widest column first and keeps fixed columns whole', () => {
    const widths = columnWidths(
      [{header: 'A', fit: 'fixed'}, 'B', 'C'],
      [['x'.repeat(30), 'y'.repeat(40), 'z'.repeat(10)]],
      60,
    )
    expect(widths[0]).toBe(30)
    expect(widths.reduce((a, b) => a + b, 0) + 4).toBe(60)
    expect(widths[2]).toBe(10)
  })

  it('with wide keeps every cell whole', () => {
    const lines = layoutTable(['ID', 'TEXT'], [[UUID, FAILURE]], {width: 40, wide: true})
    expect(lines[1]).toContain(UUID)
    expect(lines[1]).toContain(FAILURE.trimEnd())
  })

  it('right-aligns numbers and never leaves trailing spaces', () => {
    const lines = layoutTable(
      ['NAME', {header: 'N', align: 'right', fit: 'fixed'}],
      [
        ['a', '5'],
        ['bb', '10'],
      ],
      {width: 80},
    )
    expect(lines).toEqual(['NAME   N', 'a      5', 'bb    10'])
  })

  it('leaves optional columns out, from the right, until the rest fits at their minimums; wide keeps them', () => {
    const columns = [
      {header: 'ref', fit: 'fixed' as const},
      {header: 'consumer', optional: true},
      {header: 'tenant', optional: true},
      {header: 'correlation', fit: 'id' as const, min: 11},
      {header: 'failure', min: 30},
    ]
    const rows = [['DV_CMD:1', 'maskin-sandbox', 'acme', UUID, FAILURE]]
    // ref 8 + correlation 11 + failure 30 + gaps 4 = 53; optional columns only whole: consumer 14, tenant 6.
    expect(shownColumns(columns, rows, 77)).toEqual([0, 1, 2, 3, 4])
    expect(shownColumns(columns, rows, 76)).toEqual([0, 1, 3, 4])
    expect(shownColumns(columns, rows, 68)).toEqual([0, 3, 4])
    expect(shownColumns(columns, rows, 60)).toEqual([0, 3, 4])
    const narrow = layoutTable(columns, rows, {width: 60})
    expect(narrow[0].split(/\s+/)).toEqual(['ref', 'correlation', 'failure'])
    for (const line of narrow) expect(displayWidth(line)).toBeLessThanOrEqual(60)
    expect(narrow[1]).toContain(UUID.slice(0, 10))
    const roomy = layoutTable(columns, rows, {width: 90})
    expect(roomy[1]).toContain('maskin-sandbox  acme')
    const wide = layoutTable(columns, rows, {width: 60, wide: true})
    expect(wide[0].split(/\s+/)).toEqual(['ref', 'consumer', 'tenant', 'correlation', 'failure'])
    expect(wide[1]).toContain(UUID)
  })

  it('cuts ids to their minimum before text, so the text keeps the room', () => {
    const widths = columnWidths([{header: 'ID', fit: 'id', min: 9}, 'TEXT'], [[UUID, FAILURE]], 60)
    expect(widths).toEqual([9, 49])
  })

  it('goes below the minimums rather than wrap, when the fixed columns leave too little room', () => {
    const lines = layoutTable(
      [
        {header: 'REF', fit: 'fixed'},
        {header: 'CORRELATION', fit: 'id'},
        {header: 'FAILURE', min: 30},
      ],
      [['x'.repeat(30), UUID, FAILURE]],
      {width: 50},
    )
    for (const line of lines) expect(displayWidth(line)).toBeLessThanOrEqual(50)
    expect(lines[1].startsWith('x'.repeat(30))).toBe(true)
  })
})
