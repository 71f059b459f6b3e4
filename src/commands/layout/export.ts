import {BaseCommand} from '../../cli/base-command.js'
import type {Layout} from '../../lib/layout/schema.js'

export default class LayoutExport extends BaseCommand<typeof LayoutExport> {
  static override summary = "Write a site's live streams, consumers and KV buckets as a layout file."
  static override description =
    'Prints YAML (or JSON with --json) that `layout plan` and `layout apply` accept; planning the exported file against the same site reports no changes. Only values that differ from the server defaults are written.'
  static override examples = [
    '<%= config.bin %> <%= command.id %> > live-layout.yaml',
    '<%= config.bin %> <%= command.id %> --site osl1 --json',
  ]

  async run(): Promise<Layout> {
    const conn = await this.connectOne()
    const {exportLayout} = await import('../../lib/layout/export.js')
    const layout = await exportLayout(conn)
    if (!this.jsonEnabled()) {
      const {renderLayoutYaml} = await import('../../lib/render/layout.js')
      await renderLayoutYaml(layout)
    }
    return layout
  }
}
