import {Args, Flags} from '@oclif/core'

import {BaseCommand} from '../../cli/base-command.js'
import type {SiteImportResult} from '../../lib/config/nats-context.js'
import {out, warn} from '../../lib/render/terminal.js'

export default class SiteImport extends BaseCommand<typeof SiteImport> {
  static override summary = "Import the nats CLI's contexts as sites."
  static override description = `Reads $XDG_CONFIG_HOME/nats/context/*.json (else ~/.config/nats/context/): url, creds, nkey, user, TLS ca/cert/key and jetstream_domain become the site's settings. Existing sites are skipped unless --force.

A context holding a secret inline (password, token, or credentials in its url) is refused (exit 2) and nothing is imported, unless --allow-inline-secret: then its token or password is copied into a 0600 file beside the dvctl config (token_file, password_file) and a URL's credentials stay in the URL, shown redacted.`
  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> prod-osl --as osl1',
    '<%= config.bin %> <%= command.id %> lab --allow-inline-secret',
  ]
  static override args = {
    context: Args.string({description: 'Context name (file name without .json); all contexts when absent.'}),
  }
  static override flags = {
    as: Flags.string({summary: 'Site name for the imported context (default: the context name).'}),
    force: Flags.boolean({summary: 'Replace sites that already exist.'}),
    'allow-inline-secret': Flags.boolean({
      summary: 'Import contexts with an inline password or token (copied into 0600 files beside the config).',
    }),
  }

  async run(): Promise<SiteImportResult> {
    const {importNatsContexts} = await import('../../lib/config/nats-context.js')
    const result = await importNatsContexts({
      context: this.args.context,
      as: this.flags.as,
      force: this.flags.force,
      allowInlineSecret: this.flags['allow-inline-secret'],
    })
    for (const w of result.warnings) warn(w)
    for (const s of result.skipped) warn(`skipped context ${s.context}: ${s.reason}`)
    if (!this.jsonEnabled()) {
      for (const i of result.imported)
        out(`Imported context ${i.context} as site ${i.name} (${i.site.servers.join(',')})`)
      out(`Config: ${result.config}`)
    }
    return result
  }
}
