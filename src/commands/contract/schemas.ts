import {Args, Flags} from '@oclif/core'

import {BaseCommand} from '../../cli/base-command.js'
import {listingFlags, listOrderFrom, schemasFlag} from '../../cli/flags.js'
import type {JsonSchemaExport, SchemaDetail, SchemaList} from '../../lib/contract/schemas.js'
import {notFound, usageError} from '../../lib/errors.js'
import {renderJsonSchema, renderSchemaDetail, renderSchemaList, SCHEMA_LISTING} from '../../lib/render/contract.js'
import {orderList, sortFields} from '../../lib/render/listing.js'
import {sanitize} from '../../lib/render/text.js'

export default class ContractSchemas extends BaseCommand<typeof ContractSchemas> {
  static override summary = 'List the registered payload schemas, show one, or export them all as JSON Schema.'
  static override description = `Without TYPE: every registered payload type and version (built-in, plus --schemas DIR). With TYPE (a message type, "<type>/v<N>", or "envelope"): its JSON Schema per version. --json-schema prints plain JSON Schema for files and other tools: the envelope and every payload, or just TYPE's latest (or named) version.

The list (without TYPE) takes --sort and --limit, which order and cut the result (--json too); on a terminal it fits the window (--wide: every column whole); piped, every column, tab-separated, without a header row.`
  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> maskin.server.provision.requested',
    '<%= config.bin %> <%= command.id %> --json-schema > dataverket-contract.schema.json',
    '<%= config.bin %> <%= command.id %> task.failed --json-schema',
  ]

  static override args = {
    type: Args.string({
      description: 'A message type, "<type>/v<N>" for one version, or "envelope".',
    }),
  }

  static override flags = {
    'json-schema': Flags.boolean({summary: 'Print plain JSON Schema (draft 2020-12).'}),
    schemas: schemasFlag,
    ...listingFlags(sortFields(SCHEMA_LISTING)),
  }

  async run(): Promise<SchemaList | SchemaDetail | JsonSchemaExport | Record<string, unknown>> {
    const {exportJsonSchema, findSchemas, listSchemas, resolvePayloadRegistry} =
      await import('../../lib/contract/schemas.js')
    const registry = await resolvePayloadRegistry({schemasDir: this.flags.schemas ?? this.env.DVCTL_SCHEMAS})
    const asJsonSchema = this.flags['json-schema']
    const type = this.args.type
    const order = listOrderFrom(this.flags, sortFields(SCHEMA_LISTING))
    if ((type !== undefined || asJsonSchema) && (this.flags.sort !== undefined || this.flags.limit !== undefined)) {
      throw usageError(
        `--sort and --limit order the list of schemas; ${type === undefined ? '--json-schema exports them all' : `"${sanitize(type)}" is one type`}.`,
        'usage',
        'Run "dvctl contract schemas --sort <field> --limit <n>" without a type or --json-schema.',
      )
    }

    if (type === undefined) {
      if (asJsonSchema) {
        const exported = exportJsonSchema(registry)
        if (!this.jsonEnabled()) renderJsonSchema(this.term, exported)
        return exported
      }
      const all = listSchemas(registry)
      const list: SchemaList = {schemas: orderList(all.schemas, SCHEMA_LISTING, order)}
      if (!this.jsonEnabled()) await renderSchemaList(this.term, list)
      return list
    }

    const detail = findSchemas(registry, type)
    if (detail.versions.length === 0) {
      throw notFound(
        `No schema registered for "${type}".`,
        'unknown-schema',
        'Run "dvctl contract schemas" to list the registered types, or add a JSON Schema file with --schemas DIR.',
      )
    }
    if (asJsonSchema) {
      const latest = detail.versions.at(-1)!.json_schema
      if (!this.jsonEnabled()) renderJsonSchema(this.term, latest)
      return latest
    }
    if (!this.jsonEnabled()) renderSchemaDetail(this.term, detail.versions)
    return detail
  }
}
