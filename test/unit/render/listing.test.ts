import {describe, expect, it} from 'vitest'

import {orderList, sortFields, type Listing} from '../../../src/lib/render/listing.js'
import type {Terminal} from '../../../src/lib/render/terminal.js'

interface Letter {
  ref: string
  at: string
  deliveries: number | null
  tenant: string | null
}

const LISTING: Listing<Letter> = [
  {name: 'ref', cell: (l) => l.ref},
  {name: 'age', cell: (l, term: Terminal) => (term.stdoutTTY ? 'a while' : l.at), sortBy: (l) => -Date.parse(l.at)},
  {name: 'deliveries', cell: (l) => l.deliveries ?? '-', sortBy: (l) => l.deliveries},
  {name: 'tenant', cell: (l) => l.tenant ?? '-'},
]

const LETTERS: Letter[] = [
  {ref: 'DV_CMD:9', at: '2026-01-01T10:00:00Z', deliveries: 3, tenant: 'acme'},
  {ref: 'DV_CMD:10', at: '2026-01-01T12:00:00Z', deliveries: null, tenant: null},
  {ref: 'DV_CMD:2', at: '2026-01-01T11:00:00Z', deliveries: 1, tenant: 'acme'},
]
const refs = (letters: Letter[]) => letters.map((l) => l.ref)

describe('listing order (--sort, --limit)', () => {
  it('sort fields are the column names', () => {
    expect(sortFields(LISTING)).toEqual(['ref', 'age', 'deliveries', 'tenant'])
  })

  it('keeps the result order without --sort, and --limit takes the first N', () => {
    expect(refs(orderList(LETTERS, LISTING, {}))).toEqual(['DV_CMD:9', 'DV_CMD:10', 'DV_CMD:2'])
    expect(refs(orderList(LETTERS, LISTING, {limit: 2}))).toEqual(['DV_CMD:9', 'DV_CMD:10'])
  })

  it('sorts cells naturally (DV_CMD:9 before DV_CMD:10), and "-" reverses', () => {
    const by = (field: string, descending = false) => refs(orderList(LETTERS, LISTING, {sort: {field, descending}}))
    expect(by('ref')).toEqual(['DV_CMD:2', 'DV_CMD:9', 'DV_CMD:10'])
    expect(by('ref', true)).toEqual(['DV_CMD:10', 'DV_CMD:9', 'DV_CMD:2'])
    // An age sorts youngest first, by the time behind it, not by the cell a TTY shows.
    expect(by('age')).toEqual(['DV_CMD:10', 'DV_CMD:2', 'DV_CMD:9'])
  })

  it('puts missing values last either way, and keeps ties in the result order', () => {
    const by = (field: string, descending = false) => refs(orderList(LETTERS, LISTING, {sort: {field, descending}}))
    expect(by('deliveries')).toEqual(['DV_CMD:2', 'DV_CMD:9', 'DV_CMD:10'])
    expect(by('deliveries', true)).toEqual(['DV_CMD:9', 'DV_CMD:2', 'DV_CMD:10'])
    expect(by('tenant', true)).toEqual(['DV_CMD:9', 'DV_CMD:2', 'DV_CMD:10'])
  })

  it('sorts before it limits', () => {
    expect(refs(orderList(LETTERS, LISTING, {sort: {field: 'ref', descending: true}, limit: 1}))).toEqual(['DV_CMD:10'])
  })
})
