/**
 * The one home of wildcard matching.
 *
 * Subjects and subject filters follow NATS: tokens are separated by `.`, `*` stands for exactly one
 * token and `>` (last token only) for one or more tokens. A plain subject is a filter that matches only
 * itself, so the three relations below are one rule seen from three sides.
 *
 * Envelope types (`--type` of `tail`, `dlq list`, `dlq replay --all`, `dlq discard --all`) are matched as
 * text: `*` stands for any run of characters, dots included (see TYPE_PATTERN_HELP).
 */

/** Does filter `pattern` match every subject that `filter` matches (`dv.*.cmd.>` covers `dv.maskin.cmd.>`)? */
export function filterCovers(pattern: string, filter: string): boolean {
  const p = pattern.split('.')
  const f = filter.split('.')
  for (let i = 0; i < p.length; i++) {
    if (p[i] === '>') return i < f.length
    if (i >= f.length) return false
    if (p[i] === '*' ? f[i] === '>' : p[i] !== f[i]) return false
  }
  return p.length === f.length
}

/** Does `subject` (a concrete subject, as stored) match `filter`? */
export function subjectMatches(filter: string, subject: string): boolean {
  return filterCovers(filter, subject)
}

/** Do two filters overlap: is there a subject that matches both? */
export function subjectsOverlap(a: string, b: string): boolean {
  const x = a.split('.')
  const y = b.split('.')
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    if (x[i] === '>') return y.length > i
    if (y[i] === '>') return x.length > i
    if (x[i] === undefined || y[i] === undefined) return false
    if (x[i] !== y[i] && x[i] !== '*' && y[i] !== '*') return false
  }
  return true
}

/** What `--type` means, in the same words on every command that has it. */
export const TYPE_PATTERN_HELP =
  'Only this envelope type; * matches any run of characters (e.g. "maskin.*", "maskin.server.*", "*.failed").'

/**
 * A matcher for an envelope-type pattern: the type itself, or with `*` standing for any run of characters
 * (`maskin.*` is every type of the maskin service, `*.failed` every type ending in `.failed`). A value that
 * is not a string never matches.
 */
export function typeMatcher(pattern: string): (type: unknown) => boolean {
  // A filter asks the same pattern of every message it reads: the last matcher is kept.
  if (last?.pattern === pattern) return last.match
  let match: (type: unknown) => boolean
  if (!pattern.includes('*')) match = (type) => type === pattern
  else {
    const re = new RegExp(`^${pattern.split('*').map(escapeRegExp).join('.*')}$`, 's')
    match = (type) => typeof type === 'string' && re.test(type)
  }
  last = {pattern, match}
  return match
}

let last: {pattern: string; match: (type: unknown) => boolean} | undefined

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}
