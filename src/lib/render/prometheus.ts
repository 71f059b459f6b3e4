/**
 * The Prometheus text exposition format, version 0.0.4 (what `/metrics` of `metrics serve` and
 * `check --format prometheus` print): one `# HELP` and one `# TYPE` line per family, then its samples.
 * Label values come from the network (stream, consumer, task states): they are escaped here (backslash,
 * double quote, line feed), so no value can break a line or forge a sample. A small writer rather than
 * prom-client: dvctl exposes gauges and counters it already holds, computed on its own schedule.
 */

export type MetricType = 'gauge' | 'counter'

export interface Sample {
  labels?: Record<string, string>
  value: number
}

export interface MetricFamily {
  /** `dvctl_...`; a counter's name ends in `_total`. */
  name: string
  help: string
  type: MetricType
  samples: Sample[]
}

export const EXPOSITION_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8'

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/

/** Escapes a label value: `\` `"` and line feed (the exposition format's three escapes). */
export function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')
}

/** HELP text escapes `\` and line feed only. */
function escapeHelp(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')
}

export function formatValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN'
  if (value === Infinity) return '+Inf'
  if (value === -Infinity) return '-Inf'
  return String(value)
}

/**
 * The exposition text of `families`, in the order given. Families without samples are still described
 * (HELP and TYPE), so a scraper knows them before the first sample. Two samples of a family with the same
 * labels would be refused by Prometheus: the first one is kept.
 */
export function exposition(families: MetricFamily[]): string {
  const lines: string[] = []
  for (const f of families) {
    if (!NAME.test(f.name)) throw new Error(`invalid metric name ${f.name}`)
    lines.push(`# HELP ${f.name} ${escapeHelp(f.help)}`, `# TYPE ${f.name} ${f.type}`)
    const seen = new Set<string>()
    for (const s of f.samples) {
      const labels = Object.entries(s.labels ?? {})
      for (const [k] of labels) if (!LABEL.test(k) || k.startsWith('__')) throw new Error(`invalid label name ${k}`)
      const text = labels.length ? `{${labels.map(([k, v]) => `${k}="${escapeLabelValue(v)}"`).join(',')}}` : ''
      if (seen.has(text)) continue
      seen.add(text)
      lines.push(`${f.name}${text} ${formatValue(s.value)}`)
    }
  }
  return `${lines.join('\n')}\n`
}
