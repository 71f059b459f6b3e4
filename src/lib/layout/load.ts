import {readFile} from 'node:fs/promises'

import type {z} from 'zod'

import {usageError, type UserError} from '../errors.js'
import {dataverketLayout} from './dataverket.js'
import {layoutForSite} from './resolve.js'
import {parseDuration} from '../duration.js'
import {Layout, type StreamSpec} from './schema.js'
import {readAll} from '../stdin.js'

/** A problem in a layout file: the path of the offending value (`streams.DV_CMD.max_age`) and what is wrong. */
export interface LayoutProblem {
  path: string
  message: string
}

/** One subject of one stream, in the order the layout lists them. */
interface SubjectEntry {
  name: string
  subject: string
  index: number
  /** Position in the whole list: problems are reported in this order. */
  order: number
}

interface SubjectNode {
  children: Map<string, SubjectNode>
  /** Entries whose last token is this node. */
  ends: SubjectEntry[]
  /** Entries with `>` right after this node. */
  rest: SubjectEntry[]
}

const subjectNode = (): SubjectNode => ({children: new Map(), ends: [], rest: []})

/**
 * The subjects seen so far as a token tree, so that finding the earlier subjects a new one overlaps costs
 * the depth of the subject plus what it overlaps, not the number of subjects: `layout validate` stays
 * linear over layouts of thousands of streams (comparing every pair took 10 s and more at 6,000). A `*`
 * in the new subject visits every branch at its level, which is what it matches.
 */
class SubjectIndex {
  private readonly root = subjectNode()

  add(entry: SubjectEntry): void {
    let node = this.root
    for (const token of entry.subject.split('.')) {
      if (token === '>') {
        node.rest.push(entry)
        return
      }
      let child = node.children.get(token)
      if (!child) node.children.set(token, (child = subjectNode()))
      node = child
    }
    node.ends.push(entry)
  }

  /** Every entry added so far that some subject matches together with `subject` (as `subjectsOverlap` in contract/match.ts). */
  overlapping(subject: string): SubjectEntry[] {
    const tokens = subject.split('.')
    const found: SubjectEntry[] = []
    const visit = (node: SubjectNode, i: number) => {
      if (i === tokens.length) {
        found.push(...node.ends)
        return
      }
      // An earlier `>` here matches the one or more tokens left.
      found.push(...node.rest)
      const token = tokens[i]
      if (token === '>') {
        for (const child of node.children.values()) everything(child)
      } else if (token === '*') {
        for (const child of node.children.values()) visit(child, i + 1)
      } else {
        const exact = node.children.get(token)
        if (exact) visit(exact, i + 1)
        const any = node.children.get('*')
        if (any) visit(any, i + 1)
      }
    }
    const everything = (node: SubjectNode) => {
      found.push(...node.ends, ...node.rest)
      for (const child of node.children.values()) everything(child)
    }
    visit(this.root, 0)
    return found
  }
}

/**
 * Problems the schema cannot see: streams whose subjects overlap (the server refuses the second one, and
 * a message would be captured twice), checked for the base layout and for every site's merged view.
 */
export function crossCheck(layout: Layout): LayoutProblem[] {
  const problems: LayoutProblem[] = []
  const seen = new Set<string>()
  for (const site of [undefined, ...Object.keys(layout.sites)]) {
    const streams = site === undefined ? layout.streams : layoutForSite(layout, site).streams
    const prefix = site === undefined ? 'streams' : `sites.${site}.streams`
    const index = new SubjectIndex()
    const pairs: Array<[SubjectEntry, SubjectEntry]> = []
    let order = 0
    for (const [name, spec] of Object.entries(streams)) {
      for (const [i, subject] of (spec.subjects ?? []).entries()) {
        const entry = {name, subject, index: i, order: order++}
        for (const earlier of index.overlapping(subject)) if (earlier.name !== name) pairs.push([earlier, entry])
        index.add(entry)
      }
    }
    // The order of the pairwise scan this replaces: by the earlier subject, then the later one.
    pairs.sort(([a, b], [c, d]) => a.order - c.order || b.order - d.order)
    for (const [p, q] of pairs) {
      const key = [p.name, p.subject, q.name, q.subject].join('|')
      if (seen.has(key)) continue
      seen.add(key)
      problems.push({
        path: `${prefix}.${q.name}.subjects.${q.index}`,
        message: `"${q.subject}" overlaps "${p.subject}" of stream ${p.name}`,
      })
    }
  }
  for (const [name, spec] of Object.entries(layout.streams)) {
    if (spec.mirror && (spec.subjects?.length || spec.sources?.length)) {
      problems.push({path: `streams.${name}.mirror`, message: 'a mirror has neither subjects nor sources'})
    }
  }
  const reported = new Set<string>()
  for (const site of [undefined, ...Object.keys(layout.sites)]) {
    const streams = site === undefined ? layout.streams : layoutForSite(layout, site).streams
    const prefix = site === undefined ? 'streams' : `sites.${site}.streams`
    for (const [name, spec] of Object.entries(streams)) {
      for (const {field, message} of serverRules(spec, site)) {
        const key = `${name}|${field}|${message}`
        if (reported.has(key)) continue
        reported.add(key)
        problems.push({path: `${prefix}.${name}.${field}`, message})
      }
    }
  }
  return problems
}

/**
 * Combinations the server refuses, or quietly rewrites so that the layout could never match (checked
 * against nats-server 2.15.2's stream.go and consumer.go), reported before anything connects.
 */
function serverRules(spec: StreamSpec, site: string | undefined): Array<{field: string; message: string}> {
  const found: Array<{field: string; message: string}> = []
  const mirror = spec.mirror
  if (spec.mirror_direct !== undefined && !mirror) {
    found.push({field: 'mirror_direct', message: 'only a mirror has mirror_direct'})
  } else if (spec.mirror_direct !== undefined && mirror && !mirror.external && (!mirror.site || mirror.site === site)) {
    found.push({
      field: 'mirror_direct',
      message:
        "the server copies it from the origin's allow_direct for a mirror in the same domain: set allow_direct on the origin",
    })
  }
  if (mirror && spec.first_seq) found.push({field: 'first_seq', message: 'a mirror starts where its origin does'})
  if (spec.subject_delete_marker_ttl !== undefined && parseDuration(spec.subject_delete_marker_ttl) > 0) {
    const ttl = 'subject_delete_marker_ttl'
    if (parseDuration(spec.subject_delete_marker_ttl) < 1000) found.push({field: ttl, message: 'at least 1s'})
    if (mirror) found.push({field: ttl, message: 'a mirror cannot have delete markers'})
    if (spec.allow_msg_ttl === false) found.push({field: ttl, message: 'needs allow_msg_ttl (the server turns it on)'})
    if (spec.allow_rollup_hdrs === false || spec.deny_purge === true) {
      found.push({field: ttl, message: 'needs allow_rollup_hdrs and no deny_purge (the server sets them so)'})
    }
  }
  if (spec.discard_new_per_subject && (spec.discard !== 'new' || !(spec.max_msgs_per_subject! > 0))) {
    found.push({field: 'discard_new_per_subject', message: 'needs discard: new and max_msgs_per_subject above 0'})
  }
  for (const [name, consumer] of Object.entries(spec.consumers ?? {})) {
    const at = (field: string) => `consumers.${name}.${field}`
    if (consumer.filter_subject && consumer.filter_subjects) {
      found.push({field: at('filter_subjects'), message: 'set filter_subject or filter_subjects, not both'})
    }
    const policy = consumer.priority_policy ?? 'none'
    if (policy !== 'none' && !consumer.priority_groups) {
      found.push({field: at('priority_policy'), message: 'needs priority_groups'})
    }
    if (policy === 'none' && consumer.priority_groups) {
      found.push({field: at('priority_groups'), message: 'needs a priority_policy other than none'})
    }
    if (consumer.priority_timeout && policy !== 'pinned_client') {
      found.push({field: at('priority_timeout'), message: 'only for priority_policy: pinned_client'})
    }
  }
  return found
}

/** Overlaps among the base streams of a file that failed the schema, so one run reports every problem. */
function rawOverlaps(data: unknown): LayoutProblem[] {
  const raw = (data as {streams?: unknown})?.streams
  if (!raw || typeof raw !== 'object') return []
  const streams: Layout['streams'] = {}
  for (const [name, spec] of Object.entries(raw as Record<string, {subjects?: unknown}>)) {
    const subjects = spec?.subjects
    if (Array.isArray(subjects) && subjects.every((x) => typeof x === 'string')) streams[name] = {subjects}
  }
  return crossCheck({streams, kv: {}, sites: {}})
}

const formatPath = (path: PropertyKey[]) => path.map(String).join('.') || '(top level)'

export function zodProblems(error: z.ZodError): LayoutProblem[] {
  return error.issues.map((issue) => {
    const keys = (issue as {keys?: string[]}).keys
    if (issue.code === 'unrecognized_keys' && keys?.length) {
      return {
        path: formatPath([...issue.path, keys[0]]),
        message: `unknown key${keys.length > 1 ? `s ${keys.join(', ')}` : ` "${keys[0]}"`}`,
      }
    }
    // A refused record key (reserved metadata) carries its reason one level down.
    const inner = issue.code === 'invalid_key' ? issue.issues[0]?.message : undefined
    return {path: formatPath(issue.path), message: inner ?? issue.message}
  })
}

/** Validates parsed data as a layout; problems are values, not exceptions. */
export function validateLayout(data: unknown): {layout?: Layout; problems: LayoutProblem[]} {
  const parsed = Layout.safeParse(data)
  if (!parsed.success) return {problems: [...zodProblems(parsed.error), ...rawOverlaps(data)]}
  const problems = crossCheck(parsed.data)
  return problems.length ? {problems} : {layout: parsed.data, problems}
}

export function invalidLayout(source: string, problems: LayoutProblem[]): UserError {
  const lines = problems.map((p) => `  ${p.path}: ${p.message}`).join('\n')
  return usageError(
    `Invalid layout ${source}:\n${lines}`,
    'invalid-layout',
    "Fix the file; field names and values are JetStream's own, durations are strings like 30s or 14d.",
  )
}

const EMPTY_FILE = 'the file is empty: a layout file declares at least its streams or KV buckets'

/**
 * Reads a layout file (YAML or JSON; JSON is YAML) and validates it; problems are returned, each with the
 * path of the offending value (a YAML syntax error gives its line and column).
 */
export async function readLayoutFile(file: string): Promise<{layout?: Layout; problems: LayoutProblem[]}> {
  let text: string
  try {
    text = file === '-' ? await readStdin() : await readFile(file, 'utf8')
  } catch (error) {
    throw usageError(
      `Cannot read layout file ${file}: ${(error as NodeJS.ErrnoException).code ?? 'unreadable'}`,
      'layout-unreadable',
      'Check the path, or give no file to use the built-in dataverket layout.',
    )
  }
  const [yaml, {parseYamlDocument}] = await Promise.all([import('yaml'), import('../yaml.js')])
  const lineCounter = new yaml.LineCounter()
  // The library's own unique-key check compares every key of a map with every other: minutes for a layout
  // of thousands of streams. `duplicateKey` does the same check in one pass.
  const doc = parseYamlDocument(yaml, text, {uniqueKeys: false, lineCounter})
  if (doc.errors.length) {
    const e = doc.errors[0]
    const {line, col} = lineCounter.linePos(e.pos[0])
    return {problems: [{path: `line ${line}, column ${col}`, message: e.message.split('\n')[0]}]}
  }
  const duplicate = duplicateKey(yaml, doc.contents)
  if (duplicate !== undefined) {
    const {line, col} = lineCounter.linePos(duplicate)
    return {problems: [{path: `line ${line}, column ${col}`, message: 'Map keys must be unique'}]}
  }
  let data: unknown
  try {
    data = doc.toJS()
  } catch (error) {
    // An unresolved alias (`*x`) or an alias bomb is only found when the document is turned into values.
    return {problems: [{path: '(top level)', message: (error as Error).message.split('\n')[0]}]}
  }
  // An empty file (0 bytes, blanks, only comments) is a mistake, never "a layout with no streams":
  // read as one, `--prune` would plan to delete everything on the site.
  if (data === null || data === undefined) return {problems: [{path: '(top level)', message: EMPTY_FILE}]}
  return validateLayout(data)
}

/**
 * The layout a command works with, loaded and validated before anything connects: the file, or the
 * built-in `dataverket` layout when there is none. An invalid file is a usage error (exit 2).
 */
export async function loadLayout(file?: string): Promise<Layout> {
  if (!file) return dataverketLayout()
  const {layout, problems} = await readLayoutFile(file)
  if (!layout) throw invalidLayout(file, problems)
  return layout
}

/** The offset of the first key that repeats an earlier key of the same map, walking the document without recursion. */
function duplicateKey(yaml: typeof import('yaml'), root: unknown): number | undefined {
  const stack: unknown[] = [root]
  while (stack.length) {
    const node = stack.pop()
    if (yaml.isMap(node)) {
      const keys = new Set<string>()
      for (const pair of node.items) {
        const key = yaml.isScalar(pair.key) ? String(pair.key.value) : String(pair.key)
        if (keys.has(key)) return (pair.key as {range?: [number]})?.range?.[0] ?? 0
        keys.add(key)
        stack.push(pair.value)
      }
    } else if (yaml.isSeq(node)) {
      stack.push(...node.items)
    }
  }
  return undefined
}

async function readStdin(): Promise<string> {
  return (await readAll()).toString('utf8')
}
