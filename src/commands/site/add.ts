import {Args, Flags} from '@oclif/core'

import {BaseCommand} from '../../cli/base-command.js'
import type {SiteConfig} from '../../lib/config/file.js'
import type {SiteChangeResult} from '../../lib/config/sites.js'
import {usageError} from '../../lib/errors.js'
import {out} from '../../lib/render/terminal.js'

export default class SiteAdd extends BaseCommand<typeof SiteAdd> {
  static override summary = 'Add a site (one datacenter’s NATS) to the config file.'
  static override description = `The site name is its datacenter_id. Secrets are given as paths to files (--creds, --nkey, --token-file, --password-file); the config stores the absolute paths, never the secrets.

A URL carrying a password or token (nats://user:pass@host, nats://token@host) is refused (exit 2) unless --allow-inline-secret: then it is stored as given and used to log in, and shown redacted (nats://user:***@host) by every command.

The first site added becomes the default. The file is changed under a lock (concurrent site commands never lose a change), written to a temporary file and renamed, mode 0600; a symlinked config is updated through the link. DVCTL_CONFIG selects another file.`
  static override examples = [
    '<%= config.bin %> <%= command.id %> osl1 --server nats://nats.osl1.example:4222 --js-domain osl1',
    '<%= config.bin %> <%= command.id %> trd1 --server nats://a.trd1:4222,nats://b.trd1:4222 --creds ~/.nats/trd1.creds --tls-ca ca.pem',
    '<%= config.bin %> <%= command.id %> bgo1 --server nats://nats.bgo1:4222 --user ops --password-file ~/.nats/bgo1.password',
    "<%= config.bin %> <%= command.id %> lab --server 'nats://ops:pw@lab:4222' --allow-inline-secret",
  ]
  static override args = {
    name: Args.string({description: 'Site name (datacenter_id), e.g. osl1.', required: true}),
  }
  static override flags = {
    // The global --server and --creds, given the meaning they have here: the site's settings.
    server: Flags.string({summary: "The site's NATS URL(s), comma-separated.", required: true}),
    creds: Flags.string({summary: 'File with the NATS credentials (JWT and seed).'}),
    'js-domain': Flags.string({summary: 'JetStream domain of the site (normally its name).'}),
    nkey: Flags.string({summary: 'File with the NKey seed.'}),
    'token-file': Flags.string({summary: 'File with the auth token.'}),
    user: Flags.string({summary: 'User name (the password comes from --password-file).'}),
    'password-file': Flags.string({summary: 'File with the password for --user.', dependsOn: ['user']}),
    'tls-ca': Flags.string({summary: 'CA certificate file.'}),
    'tls-cert': Flags.string({summary: 'Client certificate file.', dependsOn: ['tls-key']}),
    'tls-key': Flags.string({summary: 'Client key file.', dependsOn: ['tls-cert']}),
    description: Flags.string({summary: 'Free text shown by site list.'}),
    default: Flags.boolean({summary: 'Make it the default site.'}),
    force: Flags.boolean({summary: 'Replace a site of the same name.'}),
    'allow-inline-secret': Flags.boolean({
      summary: 'Store a password or token written in the --server URL (otherwise refused: use --password-file).',
    }),
  }

  async run(): Promise<SiteChangeResult> {
    const f = this.flags
    const tls =
      f['tls-ca'] || f['tls-cert']
        ? {
            ...(f['tls-ca'] ? {ca: f['tls-ca']} : {}),
            ...(f['tls-cert'] ? {cert: f['tls-cert']} : {}),
            ...(f['tls-key'] ? {key: f['tls-key']} : {}),
          }
        : undefined
    const site: SiteConfig = {
      servers: (f.server ?? '').split(',').map((s) => s.trim()),
      ...(f.creds ? {creds: f.creds} : {}),
      ...(f.nkey ? {nkey: f.nkey} : {}),
      ...(f['token-file'] ? {token_file: f['token-file']} : {}),
      ...(f.user ? {user: f.user} : {}),
      ...(f['password-file'] ? {password_file: f['password-file']} : {}),
      ...(tls ? {tls} : {}),
      ...(f['js-domain'] ? {js_domain: f['js-domain']} : {}),
      ...(f.description ? {description: f.description} : {}),
    }
    const {SiteConfig: schema} = await import('../../lib/config/file.js')
    const checked = schema.safeParse(site)
    if (!checked.success) {
      const issue = checked.error.issues[0]
      throw usageError(
        `Invalid site: ${issue.path.join('.')}: ${issue.message}`,
        'invalid-site',
        'See dvctl site add --help.',
      )
    }
    const {addSite} = await import('../../lib/config/sites.js')
    const result = await addSite({
      name: this.args.name,
      site: checked.data,
      force: f.force,
      makeDefault: f.default,
      allowInlineSecret: f['allow-inline-secret'],
    })
    if (!this.jsonEnabled()) {
      out(
        `${result.action === 'replaced' ? 'Replaced' : 'Added'} site ${result.site} in ${result.config}` +
          (result.default_site === result.site ? ' (default site)' : ''),
      )
    }
    return result
  }
}
