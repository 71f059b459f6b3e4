import {Flags} from '@oclif/core'

import {BaseCommand} from '../../cli/base-command.js'
import {schemasFlag} from '../../cli/flags.js'
import type {ContractExportFiles} from '../../lib/contract/export.js'
import {EXPORT_FORMATS, type ExportFormat} from '../../lib/contract/export-formats.js'

export default class ContractExport extends BaseCommand<typeof ContractExport> {
  static override summary = 'Publish the contract as an AsyncAPI 3.0 document or a JSON Schema bundle.'
  static override description = `--format asyncapi: an AsyncAPI 3.0 document (JSON) of the subject taxonomy: one channel per family with its parameters (dv.{service}.cmd.{action}, dv.{service}.evt.{entity}.{verb}, dv.task.evt.{verb}, dv.rpc.{service}.{operation}) and one per subject a schema names, send and receive operations (request and reply for RPC, the reply on the requester's inbox), one message per registered payload version (NATS headers, and the envelope carrying that payload as the body, with an example), and the configured sites as servers (host and port only: credentials in a site's URL are never written).

--format json-schema: a JSON Schema bundle (draft 2020-12) that validates a whole message, envelope and payload by type and dataschema, with every schema in its $defs; with --out DIR also the envelope (envelope.v1.schema.json) and each payload version as its own file (payloads/<type>.v<N>.json, a directory --schemas reads back).

Both are generated from the schemas the validator itself uses (the built-ins and --schemas DIR). Without --out the document is printed on stdout.`
  static override examples = [
    '<%= config.bin %> <%= command.id %> --format asyncapi > dataverket.asyncapi.json',
    '<%= config.bin %> <%= command.id %> --format json-schema --out ./contract --schemas ./schemas',
  ]

  static override flags = {
    format: Flags.string({summary: 'What to write.', options: [...EXPORT_FORMATS], required: true}),
    out: Flags.directory({summary: 'Write the files into this directory (made if missing) instead of printing.'}),
    schemas: schemasFlag,
  }

  async run(): Promise<Record<string, unknown> | ContractExportFiles> {
    const format = this.flags.format as ExportFormat
    const [{resolvePayloadRegistry}, exporter, {loadConfig}] = await Promise.all([
      import('../../lib/contract/schemas.js'),
      import('../../lib/contract/export.js'),
      import('../../lib/config/file.js'),
    ])
    const registry = await resolvePayloadRegistry({schemasDir: this.flags.schemas ?? this.env.DVCTL_SCHEMAS})
    let document: Record<string, unknown>
    if (format === 'asyncapi') {
      const {config} = await loadConfig({env: this.env})
      const sites = Object.entries(config.sites).map(([name, site]) => ({name, ...site}))
      document = exporter.asyncApiDocument({registry, sites})
    } else {
      document = exporter.jsonSchemaBundle(registry)
    }
    const {renderJsonSchema} = await import('../../lib/render/contract.js')
    if (this.flags.out === undefined) {
      if (!this.jsonEnabled()) renderJsonSchema(this.term, document)
      return document
    }
    const files = await exporter.writeExport(this.flags.out, format, document, registry)
    const result: ContractExportFiles = {format, out: this.flags.out, files}
    if (!this.jsonEnabled()) {
      const {out} = await import('../../lib/render/terminal.js')
      for (const file of files) out(`wrote ${file}`)
    }
    return result
  }
}
