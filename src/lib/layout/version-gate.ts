import {usageError, type UserError} from '../errors.js'
import {serverAtLeast} from '../nats/server-version.js'
import {CONSUMER_FIELDS, type FieldDef, isDefault, KV_FIELDS, STREAM_FIELDS} from './fields.js'
import type {SiteLayout} from './schema.js'

/** A layout field the site's server cannot honour: where it is and the release it needs. */
export interface UnsupportedField {
  /** Path in the site's merged layout: `streams.ORDERS.compression`, `streams.ORDERS.consumers.c.metadata`. */
  path: string
  needs: string
}

/**
 * The fields of a site's layout that its server is too old to honour (docs/operations.md, layouts). Older
 * servers drop fields they do not know without an error, so applying them would report success and
 * leave a different stream behind; a value equal to the default is what every server does anyway, so
 * it passes (`compression: none` on 2.9).
 */
export function unsupportedFields(declared: SiteLayout, serverVersion: string): UnsupportedField[] {
  const found: UnsupportedField[] = []
  const check = (defs: FieldDef[], spec: object, path: string) => {
    for (const def of defs) {
      const value = (spec as Record<string, unknown>)[def.field]
      if (value === undefined || !def.since || isDefault(def, value)) continue
      const needs = typeof def.since === 'string' ? {version: def.since} : def.since(value)
      if (!needs || serverAtLeast(serverVersion, needs.version)) continue
      found.push({path: `${path}.${def.field}${needs.at ? `.${needs.at}` : ''}`, needs: needs.version})
    }
  }
  for (const [name, {consumers = {}, ...stream}] of Object.entries(declared.streams)) {
    check(STREAM_FIELDS, stream, `streams.${name}`)
    for (const [consumer, spec] of Object.entries(consumers)) {
      check(CONSUMER_FIELDS, spec, `streams.${name}.consumers.${consumer}`)
    }
  }
  for (const [name, spec] of Object.entries(declared.kv)) check(KV_FIELDS, spec, `kv.${name}`)
  return found
}

/** Refuses, before anything is written, a layout that uses fields the site's server cannot honour (exit 2). */
export function unsupportedLayout(site: string, serverVersion: string, fields: UnsupportedField[]): UserError {
  const lines = fields.map((f) => `  ${f.path}: needs nats-server ${f.needs} or newer`).join('\n')
  return usageError(
    `Site ${site} runs nats-server ${serverVersion}, which cannot honour ${fields.length === 1 ? 'this layout field' : 'these layout fields'}; nothing was changed:\n${lines}`,
    'layout-field-unsupported',
    `Upgrade the server of site ${site}, or set these fields only for the sites that run a newer one (under sites.<name> in the layout).`,
  )
}
