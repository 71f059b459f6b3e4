import {readdir, readFile} from 'node:fs/promises'
import {dirname, join, resolve} from 'node:path'

import {z} from 'zod'

import {usageError} from '../errors.js'
import {Envelope, MAX_TEAM_SCHEMA_DEPTH, nestedDeeperThan} from './envelope.js'
import {MESSAGE_TYPE_SOURCE} from './taxonomy.js'
import {builtinRegistry, formatDataschema, parseDataschema, PayloadRegistry} from './registry.js'

export {
  builtinRegistry,
  defaultPayloadRegistry,
  formatDataschema,
  parseDataschema,
  PayloadRegistry,
} from './registry.js'
export type {PayloadSchema} from './registry.js'

/**
 * Team schema files (docs/contract.md: "teams add JSON Schema files in a schema directory").
 *
 * Each `*.json` file in the directory (not recursive) is one JSON Schema for one payload version. Its type
 * and version come from, in order:
 *   1. `$id` ending in `<type>/v<N>` (the `dataschema` value, optionally as the tail of a URL or with
 *      `.json`), e.g. `"$id": "https://schemas.dataverket.no/maskin.server.provisioned/v2"`;
 *   2. the file name `<type>.v<N>.json` (or `<type>.v<N>.schema.json`), e.g. `maskin.server.provisioned.v2.json`.
 * A file for a built-in type and version replaces the built-in. Any file that cannot be read, parsed or
 * named this way is an error (exit 2) naming the file.
 *
 * Returns the built-in registry with the directory's schemas added.
 */
export async function loadSchemaDir(dir: string, base: PayloadRegistry = builtinRegistry()): Promise<PayloadRegistry> {
  let names: string[]
  try {
    names = (await readdir(dir)).filter((n) => n.endsWith('.json')).sort()
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    throw usageError(
      `Cannot read schema directory ${dir}: ${code === 'ENOENT' ? 'it does not exist' : code === 'ENOTDIR' ? 'it is not a directory' : (error as Error).message}.`,
      'bad-schema-dir',
      'Give --schemas a directory of JSON Schema files named <type>.v<N>.json.',
    )
  }
  const loaded = new PayloadRegistry()
  for (const name of names) {
    const file = join(dir, name)
    const fail = (why: string, hint?: string) =>
      usageError(
        `Schema file ${file}: ${why}`,
        'bad-schema-file',
        hint ?? 'Fix the file or move it out of the schema directory.',
      )
    let doc: unknown
    try {
      doc = JSON.parse(await readFile(file, 'utf8'))
    } catch (error) {
      throw fail(
        error instanceof SyntaxError
          ? `not valid JSON (${error.message}).`
          : `cannot be read (${(error as Error).message}).`,
      )
    }
    if (typeof doc !== 'object' || doc === null || Array.isArray(doc))
      throw fail('a JSON Schema must be a JSON object.')
    const jsonSchema = doc as Record<string, unknown>
    const key = schemaKey(name, jsonSchema.$id)
    if (!key) {
      throw fail(
        'cannot tell which type and version it describes.',
        'Name it <type>.v<N>.json (e.g. maskin.server.provisioned.v2.json) or give it "$id": "<type>/v<N>".',
      )
    }
    // zod converts a schema by recursion (as it later checks payloads against it).
    if (nestedDeeperThan(jsonSchema, MAX_TEAM_SCHEMA_DEPTH))
      throw fail(`nested deeper than ${MAX_TEAM_SCHEMA_DEPTH} levels; a JSON Schema need not be.`)
    let schema: z.ZodType
    try {
      schema = z.fromJSONSchema(jsonSchema as Parameters<typeof z.fromJSONSchema>[0])
    } catch (error) {
      throw fail(`not a usable JSON Schema (${(error as Error).message}).`)
    }
    if (loaded.get(key.type, key.version)) {
      throw fail(`a second schema for ${formatDataschema(key.type, key.version)} in the same directory.`)
    }
    loaded.register({
      ...key,
      schema,
      origin: file,
      jsonSchema,
      description: typeof jsonSchema.description === 'string' ? jsonSchema.description : undefined,
    })
  }
  return base.merge(loaded)
}

function schemaKey(fileName: string, id: unknown): {type: string; version: number} | undefined {
  if (typeof id === 'string') {
    const tail = new RegExp(`(${MESSAGE_TYPE_SOURCE}/v[1-9][0-9]*)(?:\\.json)?$`).exec(id)
    const parsed = tail ? parseDataschema(tail[1]) : undefined
    if (parsed) return parsed
  }
  const m = new RegExp(`^(${MESSAGE_TYPE_SOURCE})\\.v([1-9][0-9]*)(?:\\.schema)?\\.json$`).exec(fileName)
  return m ? {type: m[1], version: Number(m[2])} : undefined
}

export const SchemaListEntry = z.object({
  type: z.string(),
  version: z.number().int(),
  dataschema: z.string(),
  origin: z.string(),
  description: z.string().optional(),
})
export type SchemaListEntry = z.infer<typeof SchemaListEntry>

/** Result of `contract schemas` without a type. */
export const SchemaList = z.object({schemas: z.array(SchemaListEntry)})
export type SchemaList = z.infer<typeof SchemaList>

export const PayloadJsonSchema = SchemaListEntry.extend({json_schema: z.record(z.string(), z.unknown())})
export type PayloadJsonSchema = z.infer<typeof PayloadJsonSchema>

/** Result of `contract schemas --json-schema`: the envelope and every registered payload as JSON Schema. */
export const JsonSchemaExport = z.object({
  envelope: z.record(z.string(), z.unknown()),
  payloads: z.array(PayloadJsonSchema),
})
export type JsonSchemaExport = z.infer<typeof JsonSchemaExport>

export function listSchemas(registry: PayloadRegistry = builtinRegistry()): SchemaList {
  return {
    schemas: registry.list().map((e) => ({
      type: e.type,
      version: e.version,
      dataschema: formatDataschema(e.type, e.version),
      origin: e.origin,
      ...(e.description ? {description: e.description} : {}),
    })),
  }
}

/** The JSON Schema (draft 2020-12) of the envelope. */
export function envelopeJsonSchema(): Record<string, unknown> {
  return {
    $id: 'dataverket/envelope/v1',
    title: 'Dataverket NATS message envelope',
    ...(z.toJSONSchema(Envelope, {io: 'input', unrepresentable: 'any'}) as Record<string, unknown>),
  }
}

/** JSON Schema of every registered payload version: team files as written, built-ins from their zod schema. */
export function payloadJsonSchemas(registry: PayloadRegistry = builtinRegistry()): PayloadJsonSchema[] {
  return registry.list().map((e) => {
    const dataschema = formatDataschema(e.type, e.version)
    const json_schema =
      e.jsonSchema ??
      ({
        $id: dataschema,
        ...(e.description ? {description: e.description} : {}),
        ...(z.toJSONSchema(e.schema, {io: 'input', unrepresentable: 'any'}) as Record<string, unknown>),
      } as Record<string, unknown>)
    return {
      type: e.type,
      version: e.version,
      dataschema,
      origin: e.origin,
      ...(e.description ? {description: e.description} : {}),
      json_schema,
    }
  })
}

export function exportJsonSchema(registry: PayloadRegistry = builtinRegistry()): JsonSchemaExport {
  return {envelope: envelopeJsonSchema(), payloads: payloadJsonSchemas(registry)}
}

/** Result of `contract schemas TYPE`: the JSON Schema of each registered version of one type. */
export const SchemaDetail = z.object({type: z.string(), versions: z.array(PayloadJsonSchema)})
export type SchemaDetail = z.infer<typeof SchemaDetail>

/**
 * The schemas of one type (`maskin.server.provisioned`), one version (`maskin.server.provisioned/v2`), or
 * the envelope (`envelope`). No versions when nothing matches.
 */
export function findSchemas(registry: PayloadRegistry, query: string): SchemaDetail {
  if (query === 'envelope' || query === 'envelope/v1') {
    return {
      type: 'envelope',
      versions: [
        {
          type: 'envelope',
          version: 1,
          dataschema: 'envelope/v1',
          origin: 'built-in',
          description: 'The standard message envelope (specversion 1.0).',
          json_schema: envelopeJsonSchema(),
        },
      ],
    }
  }
  const one = parseDataschema(query)
  const type = one?.type ?? query
  const versions = payloadJsonSchemas(registry).filter((p) => p.type === type && (!one || p.version === one.version))
  return {type, versions}
}

/**
 * The payload registry a command should use: the built-ins plus the team schema directory chosen by
 * `--schemas DIR` (or DVCTL_SCHEMAS), else the config file's `schemas` (relative to the config file).
 */
export async function resolvePayloadRegistry(options: {schemasDir?: string} = {}): Promise<PayloadRegistry> {
  let dir = options.schemasDir
  if (dir === undefined) {
    const {loadConfig} = await import('../config/file.js')
    const {path, config} = await loadConfig()
    if (config.schemas) dir = resolve(dirname(path), config.schemas)
  }
  return dir === undefined ? builtinRegistry() : loadSchemaDir(dir)
}
