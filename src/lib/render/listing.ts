import {stripVTControlCharacters} from 'node:util'

import type {ColumnSpec} from './table.js'
import {table, type Terminal} from './terminal.js'

/**
 * A listing command's columns (dlq list, dlq history, task list, site list, contract schemas): one definition
 * gives the table its headers, cells and fit, and `--sort` its field names and what each sorts by, so the
 * names a user sorts by are the headers they read.
 */
export interface ListingColumn<T> extends Omit<ColumnSpec, 'header'> {
  /** The header, and the field name `--sort` takes. */
  name: string
  cell(item: T, term: Terminal): string | number
  /** What `--sort` orders by, when not the piped cell (times, counts); undefined and null sort last. */
  sortBy?(item: T): string | number | null | undefined
}

export type Listing<T> = ReadonlyArray<ListingColumn<T>>

/** `--sort` and `--limit`, parsed (cli/flags.ts); applied to the command's result, so `--json` gets them too. */
export interface ListOrder {
  sort?: {field: string; descending: boolean}
  limit?: number
}

/** The field names `--sort` accepts for a listing. */
export function sortFields<T>(listing: Listing<T>): string[] {
  return listing.map((c) => c.name)
}

/** A plain terminal: a cell as piped output shows it (RFC 3339 times, no colour) is what sorts by default. */
const PIPED: Terminal = {json: false, stdoutTTY: false, stdinTTY: false, color: false, interactive: false}

type Key = string | number | null | undefined

function compareKeys(a: Key, b: Key): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b
  return String(a).localeCompare(String(b), 'en', {numeric: true})
}

/**
 * The items in `--sort` order (stable: equal keys keep the result's own order; a missing value, or a cell of
 * `-`, last either way), then the first `--limit`. Without `--sort`, the result's own order.
 */
export function orderList<T>(items: readonly T[], listing: Listing<T>, order: ListOrder): T[] {
  let ordered = [...items]
  const column = order.sort && listing.find((c) => c.name === order.sort!.field)
  if (column) {
    const keyOf = (item: T): Key => {
      if (column.sortBy) return column.sortBy(item)
      const cell = stripVTControlCharacters(String(column.cell(item, PIPED)))
      return cell === '-' || cell === '' ? undefined : cell
    }
    const sign = order.sort!.descending ? -1 : 1
    const keyed = ordered.map((item) => ({item, key: keyOf(item)}))
    const missing = (k: Key) => k === undefined || k === null || (typeof k === 'number' && Number.isNaN(k))
    keyed.sort((a, b) => {
      if (missing(a.key) || missing(b.key)) return Number(missing(a.key)) - Number(missing(b.key))
      return sign * compareKeys(a.key, b.key)
    })
    ordered = keyed.map((k) => k.item)
  }
  return order.limit === undefined ? ordered : ordered.slice(0, order.limit)
}

/** The listing as a table: on a TTY fitted to the width (or `--wide`), else complete TSV without a header. */
export async function renderListing<T>(term: Terminal, listing: Listing<T>, items: readonly T[]): Promise<void> {
  await table(
    term,
    listing.map(({name, fit, min, align, optional}) => ({header: name, fit, min, align, optional})),
    items.map((item) => listing.map((c) => c.cell(item, term))),
  )
}
