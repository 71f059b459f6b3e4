// Secrets and safety (issue 9, item 4; issue 13, item 7): passwords, tokens, nkey seeds and creds contents
// never appear in output, errors, --json or debug logs (every run here has DEBUG=* and NODE_DEBUG=tls,net);
// the config file is 0600 and names only paths unless --allow-inline-secret; TLS verification stays on
// unless a site says `insecure: true`. Real servers that require auth (user/password and nkey on one, a
// token on another, TLS on a third), reached through sites added with `dvctl site add`, and through URLs
// carrying the credentials (`nats://bob:s3cret@host`, `nats://token@host`, NATS_URL), which log in.
import {execFileSync} from 'node:child_process'
import {mkdir, mkdtemp, readFile, rm, stat, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {freePort} from '../../src/lib/sandbox/nats-server.js'
import {runCli, type CliResult} from '../helpers/cli.js'
import {natsFixture, type NatsServerHandle} from '../helpers/nats.js'

const PASSWORD = 'Pw-SECRET-7c1e9f33-right'
const WRONG_PASSWORD = 'Pw-SECRET-0b8d2a41-wrong'
const TOKEN = 'Tok-SECRET-5e2a1d77-right'
const WRONG_TOKEN = 'Tok-SECRET-93f0c6e2-wrong'
const CREDS_GARBAGE = 'Creds-SECRET-1a2b3c4d-not-a-creds-file'
// Written into URLs (as TOKEN is): only characters a URL carries as they are, so a leak would match exactly.
const URL_PASSWORD = 's3cret'
const WRONG_URL_PASSWORD = 'Wr0ng-s3cr3t-pw'

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
  // Generous: with debug output on and many runs at once, a loaded machine makes each run slow.
  const r = await runCli(args, {
    env: {DVCTL_CONFIG: config(), DEBUG: '*', NODE_DEBUG: 'tls,net', ...env},
    timeoutMs: 180_000,
  })
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
  secrets = [
    PASSWORD,
    WRONG_PASSWORD,
    TOKEN,
    WRONG_TOKEN,
    CREDS_GARBAGE,
    nkeySeed,
    nkeySeed.slice(4, 30),
    URL_PASSWORD,
    WRONG_URL_PASSWORD,
  ]
  await writeFile(file('password'), PASSWORD + '\n', {mode: 0o600})
  await writeFile(file('wrong-password'), WRONG_PASSWORD + '\n', {mode: 0o600})
  await writeFile(file('token'), TOKEN + '\n', {mode: 0o600})
  await writeFile(file('wrong-token'), WRONG_TOKEN + '\n', {mode: 0o600})
  await writeFile(file('seed.nk'), nkeySeed + '\n', {mode: 0o600})
  await writeFile(file('bad.creds'), `-----BEGIN NATS USER JWT-----\n${CREDS_GARBAGE}\n------END NATS USER JWT------\n`)
  ;[userServer, tokenServer] = await Promise.all([
    natsFixture({
      name: 'auth1',
      // timeout: the server's 2s default for CONNECT is too short for an nkey signature on a loaded machine.
      extraConfig: `authorization {\n  timeout: 10\n  users = [\n    {user: "alice", password: "${PASSWORD}"}\n    {user: "bob", password: "${URL_PASSWORD}"}\n    {nkey: "${nkeyPublic}"}\n  ]\n}`,
    }),
    natsFixture({name: 'auth2', extraConfig: `authorization {\n  timeout: 10\n  token: "${TOKEN}"\n}`}),
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
  }, 300_000)

  it('connects with the right secrets and prints none of them, in text, JSON and debug output', async () => {
    const runs = await Promise.all([
      // --timeout 20s: the check must succeed, also when the machine is loaded (DEBUG=* runs in parallel).
      dvctl(['site', 'check', '--site', 'pw', '--json', '--timeout', '20s']),
      dvctl(['site', 'check', '--site', 'nk', '--timeout', '20s']),
      dvctl(['site', 'check', '--site', 'tok', '--json', '--timeout', '20s']),
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
  }, 300_000)

  it('fails to connect with wrong secrets (exit 4, connection-auth) or invalid secret files (exit 2) without echoing them', async () => {
    // --timeout 20s: a wrong secret is refused at once; the bound only keeps a loaded machine (seven DEBUG=*
    // runs at once) from turning the refusal into a timeout, which is another error (connection-timeout).
    const slow = ['--timeout', '20s']
    const runs = await Promise.all([
      dvctl(['site', 'check', '--site', 'pwbad', '--json', ...slow]),
      dvctl(['site', 'check', '--site', 'tokbad', ...slow]),
      dvctl(['site', 'check', '--site', 'credsbad', ...slow]),
      dvctl(['site', 'check', '--site', 'credsbad', '--json', ...slow]),
      // A creds file given on the command line and by NATS_CREDS takes the same path.
      dvctl(['contract', 'schemas', '--json'], {NATS_CREDS: file('bad.creds')}),
      dvctl([
        'publish',
        'dv.maskin.cmd.provision',
        '--data',
        '{"server_id":"s","profile":"small"}',
        '--site',
        'pwbad',
        ...slow,
      ]),
      dvctl(['site', 'check', '--server', tokenServer.url, '--creds', file('seed.nk'), ...slow]),
    ])
    // One answer for a wrong password or token: authentication failed, exit 4, code connection-auth.
    expect(runs[0].exitCode, runs[0].stdout).toBe(4)
    expect(runs[0].json().error).toMatchObject({code: 'connection-auth', message: expect.stringMatching(/auth/i)})
    for (const r of [runs[1], runs[5]]) {
      expect(r.exitCode, r.stderr).toBe(4)
      expect(r.stderr).toMatch(/: authentication failed\n/)
    }
    // A creds file that is not one is named before dialling (the client would only parse it at login and
    // report a connection failure): exit 2, code secret-file-invalid, the file's path in the message.
    for (const r of [runs[2], runs[3], runs[6]]) {
      expect(r.exitCode, r.stdout + r.stderr).toBe(2)
      expect(r.stdout + r.stderr).toMatch(/(bad\.creds|seed\.nk) is not a valid NATS credentials file/)
    }
    expect(runs[3].json().error.code).toBe('secret-file-invalid')
    for (const r of runs) {
      expect(r.stdout + r.stderr).not.toMatch(/This is a bug|Unexpected error/)
      expectNoSecret(r, r.stdout + r.stderr)
    }
  }, 300_000)

  // Issue 13 item 7: credentials written into a URL log in and are shown as nats://bob:***@host.
  describe('credentials in URLs', () => {
    const host = () => userServer.url.replace('nats://', '')
    const tokenHost = () => tokenServer.url.replace('nats://', '')
    const right = () => `nats://bob:${URL_PASSWORD}@${host()}`
    const shown = () => `nats://bob:***@${host()}`

    it('a URL with the right password logs in; a wrong one, or none, is exit 4; both shown redacted', async () => {
      const wrong = `nats://bob:${WRONG_URL_PASSWORD}@${host()}`
      const [ok, okText, bad, badText, none] = await Promise.all([
        dvctl(['site', 'check', '--server', right(), '--json', '--timeout', '20s']),
        dvctl(['site', 'check', '--server', right(), '--timeout', '20s']),
        dvctl(['site', 'check', '--server', wrong, '--json', '--timeout', '20s']),
        dvctl(['site', 'check', '--server', wrong, '--timeout', '20s']),
        dvctl(['site', 'check', '--server', userServer.url, '--json', '--timeout', '20s']),
      ])
      expect(ok.exitCode, ok.stdout + ok.stderr).toBe(0)
      expect(ok.json()).toMatchObject({site: host(), url: shown(), connected: true, jetstream: {enabled: true}})
      expect(okText.exitCode).toBe(0)
      expect(okText.stdout).toContain(shown())
      expect(bad.exitCode).toBe(4)
      expect(bad.json().error).toMatchObject({
        code: 'connection-auth',
        exitCode: 4,
        message: `Site ${host()} (${shown()}): authentication failed`,
      })
      expect(badText.exitCode).toBe(4)
      expect(badText.stderr).toContain(`Error: Site ${host()} (${shown()}): authentication failed`)
      // The server wants a password: the one in the URL is what logged in.
      expect(none.exitCode).toBe(4)
      expect(none.json().error.code).toBe('connection-auth')
    }, 300_000)

    it('a token URL and NATS_URL with credentials log in, shown redacted', async () => {
      const [token, env, envBad] = await Promise.all([
        dvctl(['site', 'check', '--server', `nats://${TOKEN}@${tokenHost()}`, '--json', '--timeout', '20s']),
        dvctl(['site', 'check', '--json', '--timeout', '20s'], {NATS_URL: right()}),
        dvctl(['site', 'check', '--timeout', '20s'], {NATS_URL: `nats://${WRONG_TOKEN}@${tokenHost()}`}),
      ])
      expect(token.exitCode, token.stdout + token.stderr).toBe(0)
      expect(token.json()).toMatchObject({url: `nats://***@${tokenHost()}`, connected: true})
      expect(env.exitCode, env.stdout + env.stderr).toBe(0)
      expect(env.json()).toMatchObject({url: shown(), connected: true})
      expect(envBad.exitCode).toBe(4)
      expect(envBad.stderr).toContain(`(nats://***@${tokenHost()}): authentication failed`)
    }, 300_000)

    it('a failing connection names the URL redacted, in every command, text and --json', async () => {
      const port = await freePort()
      const dead = `nats://bob:${URL_PASSWORD}@127.0.0.1:${port}`
      const deadShown = `nats://bob:***@127.0.0.1:${port}`
      const fast = ['--timeout', '2s']
      const runs = await Promise.all([
        dvctl(['site', 'check', '--server', dead, ...fast]),
        dvctl(['site', 'check', '--server', dead, '--json', ...fast]),
        dvctl([
          'publish',
          'dv.maskin.cmd.provision',
          '--data',
          '{"server_id":"s","profile":"small"}',
          '--server',
          dead,
        ]),
        dvctl(['dlq', 'list', '--server', dead, '--json', ...fast]),
        dvctl(['tail', '--since', '1m', '--server', dead, ...fast]),
        dvctl(['doctor', '--server', dead, '--json', ...fast]),
        dvctl(['task', 'list', ...fast], {NATS_URL: dead}),
      ])
      for (const r of runs) {
        expect(r.exitCode, r.stdout + r.stderr).toBe(4)
        expect(r.stdout + r.stderr).toContain(deadShown)
      }
      expect(runs[0].stderr).toContain(`\nError: Site 127.0.0.1:${port} (${deadShown}): connection refused\n`)
      expect(runs[1].json().error.message).toBe(`Site 127.0.0.1:${port} (${deadShown}): connection refused`)
    }, 300_000)

    it('site add stores a URL password only with --allow-inline-secret; list, show and check show it redacted', async () => {
      const refused = await dvctl(['site', 'add', 'x', '--server', right()])
      expect(refused.exitCode).toBe(2)
      expect(refused.stderr).toContain(`Error: Inline secret in the URL ${shown()}:`)
      expect(refused.stderr).toContain(`--server ${userServer.url} --user USER --password-file FILE`)
      expect(refused.stderr).toContain('--creds FILE')
      const refusedJson = await dvctl(['site', 'add', 'x', '--server', `nats://${TOKEN}@${tokenHost()}`, '--json'])
      expect(refusedJson.exitCode).toBe(2)
      expect(refusedJson.json().error.code).toBe('inline-secret')
      expect(await readFile(config(), 'utf8').catch(() => '')).not.toContain(URL_PASSWORD)

      const port = await freePort()
      const adds = await Promise.all([
        dvctl(['site', 'add', 'x', '--server', right(), '--allow-inline-secret']),
        dvctl(['site', 'add', 'xtok', '--server', `nats://${TOKEN}@${tokenHost()}`, '--allow-inline-secret', '--json']),
        dvctl([
          'site',
          'add',
          'xdead',
          '--server',
          `nats://bob:${URL_PASSWORD}@127.0.0.1:${port}`,
          '--allow-inline-secret',
        ]),
      ])
      for (const r of adds) expect(r.exitCode, r.stderr).toBe(0)
      // Stored as given (the operator allowed it), in the 0600 file.
      expect(await readFile(config(), 'utf8')).toContain(right())
      expect((await stat(config())).mode & 0o777).toBe(0o600)

      const [list, listJson, show, showJson, check, checkJson, checkTok, checkDead, checkAll] = await Promise.all([
        dvctl(['site', 'list']),
        dvctl(['site', 'list', '--json']),
        dvctl(['site', 'show', 'x']),
        dvctl(['site', 'show', 'x', '--json']),
        dvctl(['site', 'check', 'x', '--timeout', '20s']),
        dvctl(['site', 'check', 'x', '--json', '--timeout', '20s']),
        dvctl(['site', 'check', 'xtok', '--json', '--timeout', '20s']),
        dvctl(['site', 'check', 'xdead', '--timeout', '2s']),
        dvctl(['site', 'check', '--site', 'x', '--site', 'xdead', '--json', '--timeout', '20s']),
      ])
      for (const r of [list, listJson, show, showJson, check, checkJson, checkTok]) expect(r.exitCode, r.stderr).toBe(0)
      expect(list.stdout).toContain(shown())
      expect(listJson.json().sites.find((s: {name: string}) => s.name === 'x').servers).toEqual([shown()])
      expect(listJson.json().sites.find((s: {name: string}) => s.name === 'xtok').servers).toEqual([
        `nats://***@${tokenHost()}`,
      ])
      expect(show.stdout).toContain(`servers:       ${shown()}`)
      expect(showJson.json().servers).toEqual([shown()])
      expect(check.exitCode).toBe(0)
      expect(check.stdout).toContain(shown())
      expect(checkJson.json()).toMatchObject({site: 'x', url: shown(), connected: true})
      expect(checkTok.json()).toMatchObject({site: 'xtok', url: `nats://***@${tokenHost()}`, connected: true})
      expect(checkDead.exitCode).toBe(4)
      expect(checkDead.stderr).toContain(`Error: Site xdead (nats://bob:***@127.0.0.1:${port}): connection refused`)
      // Every site is checked and shown; one of them down makes the check exit 4 (as doctor).
      expect(checkAll.exitCode).toBe(4)
      expect(checkAll.json().sites.map((r: {url: string; connected: boolean}) => [r.url, r.connected])).toEqual([
        [shown(), true],
        [`nats://bob:***@127.0.0.1:${port}`, false],
      ])
      expect(checkAll.stderr).toContain(`nats://bob:***@127.0.0.1:${port}`)
    }, 300_000)

    it('site import refuses contexts with an inline secret unless --allow-inline-secret, then logs in with it', async () => {
      const xdg = file('xdg')
      await mkdir(join(xdg, 'nats', 'context'), {recursive: true})
      await writeFile(
        join(xdg, 'nats', 'context', 'labpw.json'),
        JSON.stringify({url: userServer.url, user: 'bob', password: URL_PASSWORD}),
      )
      await writeFile(join(xdg, 'nats', 'context', 'laburl.json'), JSON.stringify({url: right()}))
      const env = {DVCTL_CONFIG: file('imported/config.yaml'), XDG_CONFIG_HOME: xdg}
      const refused = await dvctl(['site', 'import', '--json'], env)
      expect(refused.exitCode).toBe(2)
      expect(refused.json().error).toMatchObject({
        code: 'inline-secret',
        message: expect.stringContaining('Inline secret in the nats contexts labpw, laburl'),
        hint: expect.stringContaining('--password-file FILE'),
      })
      const refusedText = await dvctl(['site', 'import', 'laburl'], env)
      expect(refusedText.exitCode).toBe(2)
      expect(refusedText.stderr).toContain('--allow-inline-secret')
      await expect(stat(env.DVCTL_CONFIG)).rejects.toMatchObject({code: 'ENOENT'})

      const imported = await dvctl(['site', 'import', '--allow-inline-secret'], env)
      expect(imported.exitCode, imported.stderr).toBe(0)
      expect(imported.stdout).toContain(`Imported context laburl as site laburl (${shown()})`)
      const importedJson = await dvctl(
        ['site', 'import', 'laburl', '--as', 'laburl2', '--allow-inline-secret', '--json'],
        env,
      )
      expect(importedJson.json().imported[0].site.servers).toEqual([shown()])
      // The context's password went to a 0600 file; the URL's credentials stay in the URL.
      const text = await readFile(env.DVCTL_CONFIG, 'utf8')
      expect(text).toContain('password_file:')
      expect((await stat(file('imported/secrets/labpw.password'))).mode & 0o777).toBe(0o600)
      const checks = await Promise.all(
        ['labpw', 'laburl'].map((site) => dvctl(['site', 'check', site, '--json', '--timeout', '20s'], env)),
      )
      for (const r of checks) {
        expect(r.exitCode, r.stdout + r.stderr).toBe(0)
        expect(r.json().connected).toBe(true)
      }
      expect(checks[1].json().url).toBe(shown())

      // A context file that is not JSON: Node's parse error quotes the text around the fault.
      const brokenXdg = file('xdg-broken')
      await mkdir(join(brokenXdg, 'nats', 'context'), {recursive: true})
      await writeFile(
        join(brokenXdg, 'nats', 'context', 'broken.json'),
        `{"user": "bob", "password": ${URL_PASSWORD}x}`,
      )
      const broken = await dvctl(['site', 'import', 'broken'], {...env, XDG_CONFIG_HOME: brokenXdg})
      expect(broken.exitCode).toBe(2)
      expect(broken.stderr).toContain('broken.json: Unexpected token')
      expectNoSecret(broken, 'site import of a broken context')
    }, 300_000)
  })

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
