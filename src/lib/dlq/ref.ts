import {usageError} from '../errors.js'

/** A dead letter's reference (docs/operations.md, dead letters): `<stream>:<seq>`, or `<site>/<stream>:<seq>` across sites. */
export interface DeadLetterRef {
  site?: string
  stream: string
  seq: number
}

const REF = /^(?:([A-Za-z0-9_.-]+)\/)?([A-Za-z0-9_-]+):(\d+)$/

export function parseRef(text: string): DeadLetterRef {
  const m = REF.exec(text.trim())
  const seq = m ? Number(m[3]) : 0
  if (!m || !Number.isSafeInteger(seq) || seq < 1) {
    throw usageError(
      `Invalid dead-letter reference "${text}"`,
      'bad-ref',
      'A reference is <stream>:<seq> (e.g. DV_CMD:42), or <site>/<stream>:<seq>; dvctl dlq list shows them.',
    )
  }
  return {...(m[1] ? {site: m[1]} : {}), stream: m[2], seq}
}

/** A reference given on the command line, refused when it is qualified with another site than `site`. */
export function localRef(site: string, text: string): DeadLetterRef {
  const ref = parseRef(text)
  if (ref.site && ref.site !== site) {
    throw usageError(
      `${text} belongs to site ${ref.site}, but this command is connected to ${site}.`,
      'wrong-site',
      `Run it with --site ${ref.site}.`,
    )
  }
  return ref
}

/** `<stream>:<seq>`, site-qualified when `qualified` (several sites are read). */
export function formatRef(ref: DeadLetterRef, qualified = false): string {
  const local = `${ref.stream}:${ref.seq}`
  return qualified && ref.site ? `${ref.site}/${local}` : local
}

/** The ledger key of a dead letter: `<stream>.<seq>` (KV keys allow only [-/_=.a-zA-Z0-9]). */
export function ledgerKey(ref: Pick<DeadLetterRef, 'stream' | 'seq'>): string {
  return `${ref.stream}.${ref.seq}`
}

/** The inverse of ledgerKey, for the keys of dead letters (not the replay journals). */
export function refFromLedgerKey(key: string): DeadLetterRef | undefined {
  const m = /^([A-Za-z0-9_-]+)\.(\d+)$/.exec(key)
  return m ? {stream: m[1], seq: Number(m[2])} : undefined
}

/** The one site named by site-qualified refs (so `dlq show osl1/DV_CMD:4` needs no --site), if any. */
export function siteOfRefs(refs: string[]): string | undefined {
  const sites = new Set(refs.map((r) => /^([A-Za-z0-9_.-]+)\//.exec(r)?.[1]).filter((s) => s !== undefined))
  return sites.size === 1 ? [...sites][0] : undefined
}
