/**
 * The accepted Dataverket service identities and the reserved subject tokens (ADR "Naming guidance",
 * docs/contract.md). Every module that needs the list of services or task verbs imports it from here.
 */
export const SERVICES = ['sentral', 'identitet', 'maskin', 'plattform', 'tjeneste', 'objekt', 'nett'] as const

export type Service = (typeof SERVICES)[number]

/** Second-token words that name a subject family, never a service (`dv.task.evt.*`, `dv.rpc.*`). */
export const RESERVED = ['task', 'rpc'] as const

/** The minimum task lifecycle verbs of the ADR ("Task events"). */
export const TASK_VERBS = ['created', 'queued', 'started', 'progress', 'succeeded', 'failed', 'cancelled'] as const

export type TaskVerb = (typeof TASK_VERBS)[number]

/** A task in one of these states never changes again (docs/contract.md, task lifecycle). */
export const TERMINAL_TASK_STATES = ['succeeded', 'failed', 'cancelled'] as const

export type TerminalTaskState = (typeof TERMINAL_TASK_STATES)[number]

export function isService(value: string): value is Service {
  return (SERVICES as readonly string[]).includes(value)
}

export function isTaskVerb(value: string): value is TaskVerb {
  return (TASK_VERBS as readonly string[]).includes(value)
}

export function isTerminalTaskState(value: string): value is TerminalTaskState {
  return (TERMINAL_TASK_STATES as readonly string[]).includes(value)
}
