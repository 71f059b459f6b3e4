import {isTerminalTaskState} from '../contract/services.js'

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
}

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
  /** Messages whose parent was not seen (DESIGN.md section 7: kept and shown, never dropped). */
  orphans: string[]
  /** Top level: the roots and the orphans, in time order, each with its descendants. */
  tree: CausationNode[]
  duplicates: Duplicate[]
}

const byTime = (a: WorkflowMessage, b: WorkflowMessage) =>
  a.time < b.time ? -1 : a.time > b.time ? 1 : a.site.localeCompare(b.site) || a.seq - b.seq

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
  for (const m of messages) {
    const node = nodes.get(m.id)!
    const parent = m.causation_id && m.causation_id !== m.id ? nodes.get(m.causation_id) : undefined
    if (parent) {
      parent.children.push(node)
    } else if (m.causation_id) {
      orphans.push(m.id)
      top.push(node)
    } else {
      roots.push(m.id)
      top.push(node)
    }
  }

  // A causation cycle (a malformed producer) leaves its members unreachable from the top; they are shown
  // as orphans rather than lost.
  const reachable = new Set<string>()
  const visit = (node: CausationNode) => {
    if (reachable.has(node.id)) return
    reachable.add(node.id)
    for (const child of node.children) visit(child)
  }
  for (const node of top) visit(node)
  for (const m of messages) {
    if (reachable.has(m.id)) continue
    const node = nodes.get(m.id)!
    for (const other of nodes.values()) other.children = other.children.filter((c) => c !== node)
    orphans.push(m.id)
    top.push(node)
    visit(node)
  }
  const order = new Map(messages.map((m, i) => [m.id, i]))
  top.sort((a, b) => order.get(a.id)! - order.get(b.id)!)
  return {messages, roots, orphans, tree: top, duplicates}
}

/** Flattens the tree depth-first: what a renderer prints, line by line. */
export function walkTree(
  tree: readonly CausationNode[],
  visit: (node: CausationNode, depth: number, last: boolean, ancestorsLast: boolean[]) => void,
): void {
  const go = (nodes: readonly CausationNode[], depth: number, ancestorsLast: boolean[]) => {
    nodes.forEach((node, i) => {
      const last = i === nodes.length - 1
      visit(node, depth, last, ancestorsLast)
      go(node.children, depth + 1, [...ancestorsLast, last])
    })
  }
  go(tree, 0, [])
}

export type WorkflowStatus = 'running' | 'succeeded' | 'failed' | 'dead-lettered'

export interface TaskState {
  task_id: string
  site: string
  state: string
  /** id of the message that set the state. */
  id: string
}

const TASK_SUBJECT = /^dv\.task\.evt\.([a-z][a-z0-9_]*)$/

/** The lifecycle verb of a task event (`data.state`, else the subject's verb), or null for other messages. */
export function taskVerb(m: Pick<WorkflowMessage, 'subject' | 'envelope'>): string | null {
  const match = TASK_SUBJECT.exec(m.subject)
  if (!match) return null
  const data = m.envelope.data as {state?: unknown} | undefined
  return typeof data?.state === 'string' ? data.state : match[1]
}

/** Is this message a failure mark: a failed or cancelled task (ADR "Task events"). */
export function isFailure(m: Pick<WorkflowMessage, 'subject' | 'envelope'>): boolean {
  const verb = taskVerb(m)
  return verb === 'failed' || verb === 'cancelled'
}

/** The latest state of each task of the workflow, in the order the tasks appeared. */
export function taskStates(messages: readonly WorkflowMessage[]): TaskState[] {
  const tasks = new Map<string, TaskState>()
  for (const m of [...messages].sort(byTime)) {
    const verb = taskVerb(m)
    if (!verb) continue
    const data = m.envelope.data as {task_id?: unknown} | undefined
    const taskId =
      typeof data?.task_id === 'string'
        ? data.task_id
        : typeof m.envelope.subject === 'string'
          ? m.envelope.subject
          : m.id
    const previous = tasks.get(taskId)
    // A task never leaves a terminal state (DESIGN.md section 4); a late non-terminal event does not undo it.
    if (previous && isTerminalTaskState(previous.state)) continue
    tasks.set(taskId, {task_id: taskId, site: m.site, state: verb, id: m.id})
  }
  return [...tasks.values()]
}

/**
 * dead-lettered when any message of it was dead-lettered; failed when a task failed or was cancelled;
 * succeeded when it has tasks and all of them succeeded; running otherwise.
 */
export function deriveStatus(tasks: readonly TaskState[], deadLetterCount: number): WorkflowStatus {
  if (deadLetterCount > 0) return 'dead-lettered'
  if (tasks.some((t) => t.state === 'failed' || t.state === 'cancelled')) return 'failed'
  if (tasks.length > 0 && tasks.every((t) => t.state === 'succeeded')) return 'succeeded'
  return 'running'
}
