// Secrets and safety (issue 9, item 4): passwords, tokens, nkey seeds and creds contents never appear in
// output, errors, --json or debug logs; the config file is 0600 and names only paths; TLS verification
// stays on unless a site says `insecure: true`. Real servers that require auth (user/password and nkey on
// one, a token on another, TLS on a third), reached through sites added with `dvctl site add`.
import {execFileSync} from 'node:child_process'
import {mkdtemp, readFile, rm, stat, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {runCli, type CliResult} from '../helpers/cli.js'
import {natsFixture, type NatsServerHandle} from '../helpers/nats.js'

const PASSWORD = 'Pw-SECRET-7c1e9f33-right'
const WRONG_PASSWORD = 'Pw-SECRET-0b8d2a41-wrong'
const TOKEN = 'Tok-SECRET-5e2a1d77-right'
const WRONG_TOKEN = 'Tok-SECRET-93f0c6e2-wrong'
const CREDS_GARBAGE = 'Creds-SECRET-1a2b3c4d-not-a-creds-file'

let dir: string
let userServer: NatsServerHandle
let tokenServer: NatsServerHandle
let tlsServer: NatsServerHandle | undefined
let nkeySeed: string
let nkeyPublic: string
const outputs: Array<{what: string; text: string}> = []
let secrets: string[]

const file = (name: string) => join(dir, name)
const config = () => file('config.yaml')

/** Runs dvctl with debug logging on everything and records its output for the secret scan. */
async function dvctl(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  const r = await runCli(args, {env: {DVCTL_CONFIG: config(), DEBUG: '*', NODE_DEBUG: 'tls,net', ...env}})
  outputs.push({what: args.join(' '), text: r.stdout + r.stderr})
  return r
}

function expectNoSecret(r: CliResult, what: string) {
  for (const secret of secrets) expect(r.stdout + r.stderr, `${what} printed a secret`).not.toContain(secret)
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dvctl-secrets-'))
  const {createUser} = await import('@nats-io/nkeys')
  const user = createUser()
  nkeySeed = new TextDecoder().decode(user.getSeed())
  nkeyPublic = user.getPublicKey()
  secrets = [PASSWORD, WRONG_PASSWORD, TOKEN, WRONG_TOKEN, CREDS_GARBAGE, nkeySeed, nkeySeed.slice(4, 30)]
  await writeFile(file('password'), PASSWORD + '\n', {mode: 0o600})
  await writeFile(file('wrong-password'), WRONG_PASSWORD + '\n', {mode: 0o600})
  await writeFile(file('token'), TOKEN + '\n', {mode: 0o600})
  await writeFile(file('wrong-token'), WRONG_TOKEN + '\n', {mode: 0o600})
  await writeFile(file('seed.nk'), nkeySeed + '\n', {mode: 0o600})
  await writeFile(file('bad.creds'), `-----BEGIN NATS USER JWT-----\n${CREDS_GARBAGE}\n------END NATS USER JWT------\n`)
  ;[userServer, tokenServer] = await Promise.all([
    natsFixture({
      name: 'auth1',
      extraConfig: `authorization {\n  users = [\n    {user: "alice", password: "${PASSWORD}"}\n    {nkey: "${nkeyPublic}"}\n  ]\n}`,
    }),
    natsFixture({name: 'auth2', extraConfig: `authorization {\n  token: "${TOKEN}"\n}`}),
  ])
}, 120_000)

afterAll(async () => {
  await Promise.all([userServer?.dispose(), tokenServer?.dispose(), tlsServer?.dispose()])
  await rm(dir, {recursive: true, force: true})
})

describe('secrets never reach output', () => {
  it('site add stores only paths, in a 0600 file', async () => {
    const adds = await Promise.all([
      dvctl(['site', 'add', 'pw', '--server', userServer.url, '--user', 'alice', '--password-file', file('password')]),
    ])
    adds.push(
      await dvctl([
        'site',
        'add',
        'pwbad',
        '--server',
        userServer.url,
        '--user',
        'alice',
        '--password-file',
        file('wrong-password'),
        '--json',
      ]),
      await dvctl(['site', 'add', 'nk', '--server', userServer.url, '--nkey', file('seed.nk')]),
      await dvctl(['site', 'add', 'tok', '--server', tokenServer.url, '--token-file', file('token')]),
      await dvctl(['site', 'add', 'tokbad', '--server', tokenServer.url, '--token-file', file('wrong-token')]),
      await dvctl(['site', 'add', 'credsbad', '--server', tokenServer.url, '--creds', file('bad.creds')]),
    )
    for (const r of adds) expect(r.exitCode, r.stderr).toBe(0)
    const text = await readFile(config(), 'utf8')
    for (const secret of secrets) expect(text).not.toContain(secret)
    expect(text).toContain(file('password'))
    expect((await stat(config())).mode & 0o777).toBe(0o600)
  }, 120_000)

  it('connects with the right secrets and prints none of them, in text, JSON and debug output', async () => {
    const runs = await Promise.all([
      dvctl(['site', 'check', '--site', 'pw', '--json']),
      dvctl(['site', 'check', '--site', 'nk']),
      dvctl(['site', 'check', '--site', 'tok', '--json']),
      dvctl(['site', 'list', '--json']),
      dvctl(['site', 'list']),
    ])
    for (const r of runs) expect(r.exitCode, r.stdout + r.stderr).toBe(0)
    expect(runs[0].json().connected).toBe(true)
    expect(runs[2].json().connected).toBe(true)
    const shows = await Promise.all(['pw', 'nk', 'tok', 'credsbad'].map((s) => dvctl(['site', 'show', s, '--json'])))
    for (const r of shows) expect(r.exitCode).toBe(0)
    const more = await Promise.all(['pw', 'tok'].map((s) => dvctl(['site', 'show', s])))
    for (const r of [...runs, ...shows, ...more]) expectNoSecret(r, r.stdout.slice(0, 40))
  }, 120_000)

  it('fails to connect with wrong secrets (exit 4) without echoing them', async () => {
    const runs = await Promise.all([
      dvctl(['site', 'check', '--site', 'pwbad', '--json', '--timeout', '3s']),
      dvctl(['site', 'check', '--site', 'tokbad', '--timeout', '3s']),
      dvctl(['site', 'check', '--site', 'credsbad', '--timeout', '3s']),
      dvctl(['site', 'check', '--site', 'credsbad', '--json', '--timeout', '3s']),
      // A creds file given on the command line and by NATS_CREDS takes the same path.
      dvctl(['contract', 'schemas', '--json'], {NATS_CREDS: file('bad.creds')}),
      dvctl([
        'publish',
        'dv.maskin.cmd.provision',
        '--data',
        '{"server_id":"s","profile":"small"}',
        '--site',
        'pwbad',
        '--timeout',
        '3s',
      ]),
      dvctl(['site', 'check', '--server', tokenServer.url, '--creds', file('seed.nk'), '--timeout', '3s']),
    ])
    expect(runs[0].exitCode).toBe(4)
    expect(runs[0].json().error.message).toMatch(/auth/i)
    expect(runs[1].exitCode).toBe(4)
    expect(runs[1].stderr).toMatch(/auth/i)
    // A creds file that is not one is rejected before dialling (usage) or by the server (auth): never a bug.
    for (const r of [runs[2], runs[3], runs[5], runs[6]]) expect([2, 4]).toContain(r.exitCode)
    for (const r of runs) {
      expect(r.stdout + r.stderr).not.toMatch(/This is a bug|Unexpected error/)
      expectNoSecret(r, r.stdout + r.stderr)
    }
  }, 120_000)

  it('no run printed any secret (scan of every output of this file)', () => {
    expect(outputs.length).toBeGreaterThan(15)
    for (const {what, text} of outputs) for (const s of secrets) expect(text, what).not.toContain(s)
  })
})

describe('TLS', () => {
  let haveOpenssl = true
  beforeAll(async () => {
    try {
      execFileSync(
        'openssl',
        [
          'req',
          '-x509',
          '-newkey',
          'rsa:2048',
          '-nodes',
          '-days',
          '1',
          '-subj',
          '/CN=127.0.0.1',
          '-addext',
          'subjectAltName=IP:127.0.0.1,DNS:localhost',
          '-keyout',
          file('tls.key'),
          '-out',
          file('tls.crt'),
        ],
        {stdio: 'ignore'},
      )
    } catch {
      haveOpenssl = false
      return
    }
    tlsServer = await natsFixture({
      name: 'tls1',
      extraConfig: `tls {\n  cert_file: "${file('tls.crt')}"\n  key_file: "${file('tls.key')}"\n}`,
    })
  }, 60_000)

  it('verifies the server certificate unless the site says insecure: true', async () => {
    if (!haveOpenssl) return expect.fail('openssl is needed to make a test certificate')
    const url = tlsServer!.url.replace('nats://', 'tls://')
    const cfg = file('tls-config.yaml')
    await writeFile(
      cfg,
      [
        'sites:',
        `  noca: {servers: ["${url}"]}`,
        `  withca: {servers: ["${url}"], tls: {ca: "${file('tls.crt')}"}}`,
        `  insecure: {servers: ["${url}"], tls: {insecure: true}}`,
        '',
      ].join('\n'),
    )
    const env = {DVCTL_CONFIG: cfg}
    const [noca, withca, insecure] = await Promise.all(
      ['noca', 'withca', 'insecure'].map((site) =>
        runCli(['site', 'check', '--site', site, '--json', '--timeout', '3s'], {env}),
      ),
    )
    // A self-signed certificate is refused by default: no silent downgrade.
    expect(noca.exitCode, noca.stdout).toBe(4)
    expect(noca.json().error.message).toMatch(/certificate|tls|self.signed/i)
    expect(withca.exitCode, withca.stdout + withca.stderr).toBe(0)
    expect(withca.json().connected).toBe(true)
    expect(insecure.exitCode, insecure.stdout + insecure.stderr).toBe(0)
  }, 60_000)
})
