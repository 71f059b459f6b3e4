import {compareText} from './order.js'

/**
 * "Did you mean": the candidates nearest to what was typed, by edit distance (a transposition counts as one
 * edit, so `stauts` is one step from `status`). Only close ones are offered: a suggestion far from the input
 * is noise.
 */
export function suggest(typed: string, candidates: readonly string[], max = 3): string[] {
  const limit = Math.max(1, Math.min(3, Math.floor(typed.length / 3)))
  return candidates
    .map((candidate) => ({candidate, distance: editDistance(typed.toLowerCase(), candidate.toLowerCase())}))
    .filter((c) => c.distance <= limit || c.candidate.startsWith(typed))
    .sort((a, b) => a.distance - b.distance || compareText(a.candidate, b.candidate))
    .slice(0, max)
    .map((c) => c.candidate)
}

/** Optimal string alignment distance: insertions, deletions, substitutions and adjacent transpositions. */
export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({length: a.length + 1}, (_, i) => [i, ...Array<number>(b.length).fill(0)])
  for (let j = 1; j <= b.length; j++) d[0][j] = j
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1)
    }
  }
  return d[a.length][b.length]
}
