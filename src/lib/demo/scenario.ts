import {randomUUID} from 'node:crypto'

import type {EnvelopeInput} from '../publish/envelope.js'

/**
 * The messages `dvctl demo` sends (README, sandbox), as a control plane's `sentral` would: pure, so the
 * same scenario is what the tests and the README describe. Every run has fresh ids, so running the demo
 * again adds workflows instead of colliding with the previous ones.
 */

/** The tenant the demo's traffic belongs to: easy to filter out (`--tenant demo`). */
export const DEMO_TENANT = 'demo'

/** Why the poison command fails: a permanent, non-retryable worker error (term: a `terminated` dead letter). */
export const POISON_ERROR = {
  code: 'unsupported-version',
  message: 'kubernetes_version 1.12 is no longer supported (minimum 1.28); fix the request, it will never succeed',
}

export type DemoWorkflowKind = 'provisioning' | 'network-apply' | 'poison'

export interface DemoCommand {
  kind: DemoWorkflowKind
  /** Index of the site (in the demo's site list) the command is sent to. */
  siteIndex: number
  input: EnvelopeInput
}

export interface ScenarioOptions {
  /** The demo's sites, as datacenter ids (`datacenter_id` of each command). */
  datacenters: Array<string | undefined>
  actor: string
  /** Short random suffix for resource ids; a fresh one per run. */
  suffix?: string
}

/**
 * A server provisioning on the first site; a network change applied in two datacenters under one
 * correlation (only with two or more sites); a cluster deployment the `plattform` worker refuses for good.
 */
export function demoScenario(options: ScenarioOptions): DemoCommand[] {
  const suffix = options.suffix ?? randomUUID().slice(0, 8)
  const common = {actor: options.actor, tenant: DEMO_TENANT, project: 'demo-web', environment: 'prod'}
  const on = (i: number) => ({datacenter: options.datacenters[i]})
  const commands: DemoCommand[] = [
    {
      kind: 'provisioning',
      siteIndex: 0,
      input: {
        ...common,
        ...on(0),
        subject: 'dv.maskin.cmd.provision',
        subjectId: `srv-${suffix}`,
        data: {server_id: `srv-${suffix}`, profile: 'general-8c32g', hostname: `web-${suffix}`, image: 'debian-12'},
      },
    },
  ]
  if (options.datacenters.length >= 2) {
    // One correlation across datacenters: the ADR's explicit cross-site coordination flow, each site's
    // command kept in its own DV_CMD (site-local streams).
    const correlationId = randomUUID()
    for (const i of [0, 1]) {
      commands.push({
        kind: 'network-apply',
        siteIndex: i,
        input: {
          ...common,
          ...on(i),
          subject: 'dv.nett.cmd.apply',
          subjectId: `net-${suffix}`,
          correlationId,
          data: {network_id: `net-${suffix}`, revision: 3, config_ref: `objekt://netcfg/net-${suffix}/r3.json`},
        },
      })
    }
  }
  commands.push({
    kind: 'poison',
    siteIndex: 0,
    input: {
      ...common,
      ...on(0),
      subject: 'dv.plattform.cmd.deploy',
      type: 'plattform.cluster.deploy.requested',
      subjectId: `k8s-${suffix}`,
      data: {cluster_id: `k8s-${suffix}`, kubernetes_version: '1.12', node_count: 3},
    },
  })
  return commands
}

/** The `plattform` worker's verdict: the demo's poison command fails permanently, anything else succeeds. */
export function isPoison(data: Record<string, unknown>): boolean {
  return data.kubernetes_version === '1.12'
}
