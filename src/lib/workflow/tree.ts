import {compareText} from '../order.js'
import {taskEventVerb} from '../tasks/board.js'
import {WorkflowFold, type TaskState} from './state.js'

/**
 * The causation tree of a workflow (ADR "Ordering model": use correlation and causation IDs for workflow
 * reconstruction). Pure functions: no I/O, so `dlq show` and tests use them directly.
 */

/** One message of a workflow, as read from a site's stream. */
export interface WorkflowMessage {
  site: string
  stream: string
  seq: number
  subject: string
  /** The envelope's `time` when valid, else when the stream stored it. */
  time: string
  id: string
  causation_id: string | null
  type: string | null
  envelope: Record<string, unknown>
}

export interface CausationNode {
  id: string
  children: CausationNode[]
  /**
   * Set on a node at TREE_DEPTH_LIMIT whose descendants are not nested below it (`children` is then
   * empty): how many levels and messages were folded away. They are all in `messages`, each with its
   * `causation_id`, so the full tree can be rebuilt from there.
   */
  folded?: {levels: number; messages: number}
}

/**
 * How deep the nested `tree` goes (the roots are level 1): a chain of 5,000 causes would otherwise be a
 * JSON document 10,000 levels deep, which many JSON readers refuse (Python's json, jq 1.6). Deeper
 * descendants are folded into their ancestor at this level (`folded`).
 */
export const TREE_DEPTH_LIMIT = 100

export interface Duplicate {
  id: string
  /** How many times the id was delivered (2 or more). */
  count: number
  copies: Array<{site: string; stream: string; seq: number}>
}

export interface CausationTree {
  /** Each id once (its first copy), in time order. */
  messages: WorkflowMessage[]
  /** Workflow starts: messages without `causation_id`. */
  roots: string[]
  /** Messages whose parent was not seen (README: kept and shown, never dropped). */
  orphans: string[]
  /** Top level: the roots and the orphans, in time order, each with its descendants. */
  tree: CausationNode[]
  duplicates: Duplicate[]
}

const byTime = (a: WorkflowMessage, b: WorkflowMessage) =>
  compareText(a.time, b.time) || compareText(a.site, b.site) || a.seq - b.seq

export function buildCausationTree(input: readonly WorkflowMessage[]): CausationTree {
  const sorted = [...input].sort(byTime)
  const first = new Map<string, WorkflowMessage>()
  const copies = new Map<string, Duplicate['copies']>()
  for (const m of sorted) {
    const where = {site: m.site, stream: m.stream, seq: m.seq}
    const seen = copies.get(m.id)
    if (seen) {
      seen.push(where)
      continue
    }
    first.set(m.id, m)
    copies.set(m.id, [where])
  }
  const messages = [...first.values()]
  const duplicates: Duplicate[] = []
  for (const [id, list] of copies) if (list.length > 1) duplicates.push({id, count: list.length, copies: list})

  const nodes = new Map<string, CausationNode>()
  for (const m of messages) nodes.set(m.id, {id: m.id, children: []})
  const roots: string[] = []
  const orphans: string[] = []
  const top: CausationNode[] = []
  const parentOf = new Map<CausationNode, CausationNode>()
  for (const m of messages) {
    const node = nodes.get(m.id)!
    const parent = m.causation_id && m.causation_id !== m.id ? nodes.get(m.causation_id) : undefined
    if (parent) {
      parent.children.push(node)
      parentOf.set(node, parent)
    } else if (m.causation_id) {
      orphans.push(m.id)
      top.push(node)
    } else {
      roots.push(m.id)
      top.push(node)
    }
  }

  // A causation cycle (a malformed producer) leaves its members unreachable from the top; the first of
  // each cycle (in time order) is cut from its parent and shown as an orphan, so nothing is lost.
  // Iterative: a chain of causes can be thousands long.
  const reachable = new Set<CausationNode>()
  const mark = (from: CausationNode) => {
    const stack = [from]
    while (stack.length > 0) {
      const node = stack.pop()!
      if (reachable.has(node)) continue
      reachable.add(node)
      for (const child of node.children) stack.push(child)
    }
  }
  for (const node of top) mark(node)
  for (const m of messages) {
    const node = nodes.get(m.id)!
    if (reachable.has(node)) continue
    const parent = parentOf.get(node)
    if (parent) parent.children = parent.children.filter((c) => c !== node)
    orphans.push(m.id)
    top.push(node)
    mark(node)
  }
  const order = new Map(messages.map((m, i) => [m.id, i]))
  top.sort((a, b) => order.get(a.id)! - order.get(b.id)!)
  return {messages, roots, orphans, tree: foldTree(top, TREE_DEPTH_LIMIT), duplicates}
}

/**
 * The tree with every node at level `limit` standing in for its descendants (`folded`, no children), so
 * that nothing built on it (JSON, renderers) nests deeper than `limit`. Iterative; nodes above the limit
 * are copied, so the input is not changed.
 */
export function foldTree(tree: readonly CausationNode[], limit: number): CausationNode[] {
  const copy = (node: CausationNode): CausationNode => ({
    id: node.id,
    children: [],
    ...(node.folded ? {folded: node.folded} : {}),
  })
  const out = tree.map(copy)
  const stack = tree.map((node, i) => ({node, into: out[i], level: 1}))
  while (stack.length > 0) {
    const {node, into, level} = stack.pop()!
    if (node.children.length === 0) continue
    if (level >= limit) {
      const below = subtreeStats(node)
      into.folded = {levels: below.levels, messages: below.messages}
      continue
    }
    for (const child of node.children) {
      const c = copy(child)
      into.children.push(c)
      stack.push({node: child, into: c, level: level + 1})
    }
  }
  return out
}

/** How many levels and messages are below a node, counting what was folded into its descendants. */
export function subtreeStats(node: CausationNode): {levels: number; messages: number} {
  let levels = node.folded?.levels ?? 0
  let messages = node.folded?.messages ?? 0
  const stack: Array<{node: CausationNode; depth: number}> = node.children.map((c) => ({node: c, depth: 1}))
  while (stack.length > 0) {
    const {node: n, depth} = stack.pop()!
    messages += 1 + (n.folded?.messages ?? 0)
    levels = Math.max(levels, depth + (n.folded?.levels ?? 0))
    for (const c of n.children) stack.push({node: c, depth: depth + 1})
  }
  return {levels, messages}
}

/**
 * Flattens the tree depth-first: what a renderer prints, line by line. Iterative (a chain of causes may
 * be thousands long). The visitor returns false to skip a node's descendants (a renderer folding deep
 * levels); `ancestorsLast` says, for each ancestor, whether it was the last of its siblings.
 */
export function walkTree(
  tree: readonly CausationNode[],
  visit: (node: CausationNode, depth: number, last: boolean, ancestorsLast: boolean[]) => unknown,
): void {
  const stack: Array<{node: CausationNode; depth: number; last: boolean; ancestorsLast: boolean[]}> = []
  for (let i = tree.length - 1; i >= 0; i--)
    stack.push({node: tree[i], depth: 0, last: i === tree.length - 1, ancestorsLast: []})
  while (stack.length > 0) {
    const {node, depth, last, ancestorsLast} = stack.pop()!
    if (visit(node, depth, last, ancestorsLast) === false) continue
    const below = [...ancestorsLast, last]
    for (let i = node.children.length - 1; i >= 0; i--)
      stack.push({node: node.children[i], depth: depth + 1, last: i === node.children.length - 1, ancestorsLast: below})
  }
}

export {deriveStatus, type TaskState, type WorkflowStatus} from './state.js'

/**
 * The lifecycle verb of a task event (the last token of `dv.task.evt.<verb>`, as `task watch` reads it),
 * or null for other messages.
 */
export function taskVerb(m: Pick<WorkflowMessage, 'subject'>): string | null {
  return taskEventVerb(m.subject)
}

/** Is this message a failure mark: a failed or cancelled task (ADR "Task events"). */
export function isFailure(m: Pick<WorkflowMessage, 'subject'>): boolean {
  const verb = taskVerb(m)
  return verb === 'failed' || verb === 'cancelled'
}

/**
 * The latest state of each task of the workflow, in the order the tasks appeared: the messages folded in
 * time order through the one workflow reducer (state.ts), whose task board is the one `task watch` and
 * `task list` use, so all of them agree (an event that breaks the lifecycle, such as `started` after
 * `progress`, leaves the state as it was). `site` and `id` are those of the event that set the state.
 */
export function taskStates(messages: readonly WorkflowMessage[]): TaskState[] {
  const fold = new WorkflowFold()
  for (const m of [...messages].sort(byTime)) fold.apply(m)
  return fold.tasks()
}
