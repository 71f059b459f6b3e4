/**
 * The order of machine text (RFC 3339 times, ids, subjects, stream, consumer, site and type names): by code
 * point, the same on every machine. Not `localeCompare`, which orders by the process's locale (so one listing
 * could sort differently on two machines) and whose first call builds ICU's collator, about 8 ms of a run.
 * Text for people, sorted in a table, keeps its locale (render/listing.ts).
 */
export function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}
