import {z} from 'zod'

import {compareText} from '../order.js'
import {TaskEventData} from './lifecycle.js'
import {TASK_VERBS} from './services.js'
import {MESSAGE_TYPE_SOURCE} from './taxonomy.js'

/**
 * The payload schema registry (ADR "Payload rules": payload schemas must be versioned). A schema is keyed by
 * the envelope `type` and a version N taken from `dataschema` = `<type>/v<N>`; an envelope without
 * `dataschema` is version 1 (docs/contract.md).
 */
export interface PayloadSchema {
  type: string
  version: number
  schema: z.ZodType
  /** `built-in`, or the file it was loaded from. */
  origin: string
  /** The JSON Schema document it was loaded from (exported as is, since a round trip through zod may lose detail). */
  jsonSchema?: Record<string, unknown>
  description?: string
  /** The subject the type travels on, when the registry knows it (the built-ins: the ADR's examples). */
  subject?: string
  /** An RPC reply: it travels on the requester's inbox, in answer to `subject`. */
  reply?: boolean
  /** A payload that satisfies the schema (`contract export` shows it in a whole example message). */
  example?: Record<string, unknown>
}

export class PayloadRegistry {
  private readonly entries = new Map<string, PayloadSchema>()
  /** The same entries by type, then version: what readers ask per message, without building a key. */
  private readonly byType = new Map<string, Map<number, PayloadSchema>>()

  /** Adds a schema; one for the same type and version replaces it (a team file overrides a built-in). */
  register(entry: PayloadSchema): this {
    this.entries.set(`${entry.type}/v${entry.version}`, entry)
    let versions = this.byType.get(entry.type)
    if (!versions) this.byType.set(entry.type, (versions = new Map()))
    versions.set(entry.version, entry)
    return this
  }

  get(type: string, version = 1): PayloadSchema | undefined {
    return this.byType.get(type)?.get(version)
  }

  /** Whether any version of a type is registered (cheap: stream readers ask it per message). */
  hasType(type: string): boolean {
    return this.byType.has(type)
  }

  /** The registered versions of a type, ascending. */
  versions(type: string): number[] {
    return [...(this.byType.get(type)?.keys() ?? [])].sort((a, b) => a - b)
  }

  /** Every schema, by type then version. */
  list(): PayloadSchema[] {
    return [...this.entries.values()].sort((a, b) => compareText(a.type, b.type) || a.version - b.version)
  }

  /** A copy holding this registry's schemas and then `other`'s (which win on the same type and version). */
  merge(other: PayloadRegistry): PayloadRegistry {
    const merged = new PayloadRegistry()
    for (const e of this.list()) merged.register(e)
    for (const e of other.list()) merged.register(e)
    return merged
  }
}

/** `<type>/v<N>`, N from 1: the envelope's `dataschema` (groups: type, version). */
export const DATASCHEMA = new RegExp(`^(${MESSAGE_TYPE_SOURCE})/v([1-9][0-9]*)$`)

/** `maskin.server.provisioned/v2` -> {type, version}; undefined when it is not of that form. */
export function parseDataschema(dataschema: string): {type: string; version: number} | undefined {
  const m = DATASCHEMA.exec(dataschema)
  return m ? {type: m[1], version: Number(m[2])} : undefined
}

export function formatDataschema(type: string, version: number): string {
  return `${type}/v${version}`
}

const id = z.string().min(1)

/**
 * Payloads of the ADR's example messages (v1). Fields are the minimum a consumer needs; everything else is
 * allowed, since consumers must ignore unknown fields (ADR "Payload rules"). Large artifacts are referenced
 * by URI (`*_ref`), never embedded.
 */
const BUILTIN: Array<Omit<PayloadSchema, 'origin' | 'version'>> = [
  {
    type: 'maskin.server.provision.requested',
    description: 'Command on dv.maskin.cmd.provision: provision a physical server.',
    subject: 'dv.maskin.cmd.provision',
    example: {server_id: 'srv-osl1-0042', profile: 'gpu-large', hostname: 'osl1-r12-u07', labels: {rack: 'r12'}},
    schema: z.looseObject({
      server_id: id,
      profile: id,
      hostname: z.string().min(1).optional(),
      image: z.string().min(1).optional(),
      labels: z.record(z.string(), z.string()).optional(),
    }),
  },
  {
    type: 'maskin.server.provisioned',
    description: 'Event on dv.maskin.evt.server.provisioned: a server is installed and reachable.',
    subject: 'dv.maskin.evt.server.provisioned',
    example: {server_id: 'srv-osl1-0042', hostname: 'osl1-r12-u07', ip_addresses: ['10.0.4.17']},
    schema: z.looseObject({
      server_id: id,
      hostname: z.string().min(1).optional(),
      ip_addresses: z.array(z.string().min(1)).optional(),
      task_id: z.string().min(1).optional(),
    }),
  },
  {
    type: 'nett.apply.requested',
    description: 'Command on dv.nett.cmd.apply: apply a network configuration revision.',
    subject: 'dv.nett.cmd.apply',
    example: {network_id: 'vpc-12', revision: 7, config_ref: 's3://configs/vpc-12/7.json'},
    schema: z.looseObject({
      network_id: id,
      revision: z.int().min(1).optional(),
      config_ref: z.string().min(1).optional(),
    }),
  },
  {
    type: 'plattform.cluster.ready',
    description: 'Event on dv.plattform.evt.cluster.ready: a cluster accepts workloads.',
    subject: 'dv.plattform.evt.cluster.ready',
    example: {cluster_id: 'cluster-9', kubernetes_version: '1.31.2', node_count: 3},
    schema: z.looseObject({
      cluster_id: id,
      kubernetes_version: z.string().min(1).optional(),
      api_endpoint: z.string().min(1).optional(),
      node_count: z.int().min(0).optional(),
    }),
  },
  {
    type: 'identitet.token.introspect.requested',
    description: 'RPC request on dv.rpc.identitet.introspect_token: is this token active, and whose is it?',
    subject: 'dv.rpc.identitet.introspect_token',
    example: {token: 'opaque-token-value', token_type_hint: 'access_token'},
    schema: z.looseObject({token: id, token_type_hint: z.enum(['access_token', 'refresh_token']).optional()}),
  },
  {
    type: 'identitet.token.introspect.replied',
    description: 'RPC reply of dv.rpc.identitet.introspect_token.',
    subject: 'dv.rpc.identitet.introspect_token',
    reply: true,
    example: {active: true, subject: 'user:lars.solem', scopes: ['servers:write'], expires_at: '2026-03-14T10:30:00Z'},
    schema: z.looseObject({
      active: z.boolean(),
      subject: z.string().optional(),
      scopes: z.array(z.string()).optional(),
      expires_at: z.string().optional(),
    }),
  },
  ...TASK_VERBS.map((verb) => ({
    type: `task.${verb}`,
    description: `Task event on dv.task.evt.${verb}; the envelope subject is the task id.`,
    schema: TaskEventData,
    subject: `dv.task.evt.${verb}`,
    example: {
      task_id: 'task-0001',
      state: verb,
      ...(verb === 'progress' ? {progress: {percent: 40, message: 'installing the image'}} : {}),
      ...(verb === 'failed' ? {error: {code: 'no-capacity', message: 'no free VLAN', retryable: true}} : {}),
    },
  })),
]

/** A fresh registry holding the built-in schemas (v1 of each). */
export function builtinRegistry(): PayloadRegistry {
  const registry = new PayloadRegistry()
  for (const entry of BUILTIN) registry.register({...entry, version: 1, origin: 'built-in'})
  return registry
}

let defaultRegistry: PayloadRegistry | undefined

/** The shared built-in registry, made on first use (no work at import time). */
export function defaultPayloadRegistry(): PayloadRegistry {
  defaultRegistry ??= builtinRegistry()
  return defaultRegistry
}
