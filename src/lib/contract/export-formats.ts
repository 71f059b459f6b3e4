/** What `contract export` writes (export.ts). Its own module: the command's --format flag lists them without loading the exporter. */
export const EXPORT_FORMATS = ['asyncapi', 'json-schema'] as const
export type ExportFormat = (typeof EXPORT_FORMATS)[number]
