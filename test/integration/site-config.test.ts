import {lstat, mkdir, mkdtemp, readdir, readFile, readlink, rm, stat, symlink, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {loadConfig} from '../../src/lib/config/file.js'
import {SiteImportResult} from '../../src/lib/config/nats-context.js'
import {SiteChangeResult, SiteListResult, SiteShowResult} from '../../src/lib/config/sites.js'
import {SiteCheckResult} from '../../src/lib/nats/site-check.js'
import {runCommand} from '../helpers/run.js'
import {natsFixture, type NatsServerHandle} from '../helpers/nats.js'

describe('site add/list/show/use/remove', {timeout: 90_000}, () => {
  let dir: string
  let config: string
  const env = () => ({DVCTL_CONFIG: config})
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dvctl-site-config-'))
    config = join(dir, 'dvctl', 'config.yaml')
  })
  afterAll(async () => rm(dir, {recursive: true, force: true}))

  // The steps build on each other: add, add, list, show, use, remove, each read back from the file.
  it('site add writes the first site as the default, mode 0600', async () => {
    const add = await runCommand(
      [
        'site',
        'add',
        'osl1',
        '--server',
        'nats://osl1.example:4222',
        '--js-domain',
        'osl1',
        '--creds',
        'osl1.creds',
        '--json',
      ],
      {env: env()},
    )
    expect(add.exitCode).toBe(0)
    expect(SiteChangeResult.parse(add.json())).toEqual({config, action: 'added', site: 'osl1', default_site: 'osl1'})
    expect((await stat(config)).mode & 0o777).toBe(0o600)
    const add2 = await runCommand(
      ['site', 'add', 'trd1', '--server', 'nats://a.trd1:4222,nats://b.trd1:4222', '--description', 'Trondheim'],
      {env: env()},
    )
    expect(add2.exitCode).toBe(0)
    expect(add2.stdout).toBe(`Added site trd1 in ${config}\n`)
  })

  it('site list reads them back', async () => {
    const list = SiteListResult.parse((await runCommand(['site', 'list', '--json'], {env: env()})).json())
    expect(list.default_site).toBe('osl1')
    expect(list.sites.map((s) => [s.name, s.servers, s.default])).toEqual([
      ['osl1', ['nats://osl1.example:4222'], true],
      ['trd1', ['nats://a.trd1:4222', 'nats://b.trd1:4222'], false],
    ])
  })

  it('site show prints settings and the path of the creds file', async () => {
    const show = await runCommand(['site', 'show', 'osl1', '--json'], {env: env()})
    // A relative creds path is stored absolute (resolved where the command ran), never its contents.
    expect(SiteShowResult.parse(show.json())).toMatchObject({name: 'osl1', js_domain: 'osl1', config})
    expect(show.json().creds).toMatch(/\/osl1\.creds$/)
  })

  it('site use changes the default in the file', async () => {
    const use = await runCommand(['site', 'use', 'trd1', '--json'], {env: env()})
    expect(SiteChangeResult.parse(use.json()).default_site).toBe('trd1')
    expect((await loadConfig({path: config})).config.default_site).toBe('trd1')
  })

  it('site remove deletes the site (and the default that named it) from the file', async () => {
    const remove = await runCommand(['site', 'remove', 'trd1'], {env: env()})
    expect(remove.exitCode).toBe(0)
    const after = (await loadConfig({path: config})).config
    expect(Object.keys(after.sites)).toEqual(['osl1'])
    expect(after.default_site).toBeUndefined()
  })

  it('refuses to replace a site without --force (exit 6) and replaces it with --force', async () => {
    const again = await runCommand(['site', 'add', 'osl1', '--server', 'nats://other:4222'], {env: env()})
    expect(again.exitCode).toBe(6)
    expect(again.stderr).toContain('Site osl1 already exists')
    expect(again.stderr).toContain('--force')
    const forced = await runCommand(['site', 'add', 'osl1', '--server', 'nats://other:4222', '--force', '--json'], {
      env: env(),
    })
    expect(SiteChangeResult.parse(forced.json()).action).toBe('replaced')
    expect((await loadConfig({path: config})).config.sites.osl1.servers).toEqual(['nats://other:4222'])
  })

  it('refuses a bad site name or URL with exit 2', async () => {
    expect((await runCommand(['site', 'add', 'Oslo 1', '--server', 'nats://x:1'], {env: env()})).exitCode).toBe(2)
    const badUrl = await runCommand(['site', 'add', 'bgo1', '--server', 'not a url'], {env: env()})
    expect(badUrl.exitCode).toBe(2)
    expect(badUrl.stderr).toContain('servers.0')
  })

  it('an unknown site is exit 5', async () => {
    const missing = await runCommand(['site', 'show', 'bgo1'], {env: env()})
    expect(missing.exitCode).toBe(5)
    expect(missing.stderr).toContain('No site "bgo1"')
  })

  it('a corrupted config is exit 2 naming the file and line, for every command that reads it', async () => {
    const broken = join(dir, 'broken.yaml')
    await writeFile(
      broken,
      ['default_site: osl1', 'sites:', '  osl1:', '    servers: [nats://a:4222]', '    sever: x', ''].join('\n'),
    )
    const list = await runCommand(['site', 'list'], {env: {DVCTL_CONFIG: broken}})
    expect(list.exitCode).toBe(2)
    expect(list.stderr.split('\n')[0]).toBe(
      `Error: Invalid config file ${broken}:5: sites.osl1.sever: unknown key "sever"`,
    )
    expect(list.stderr).not.toMatch(/at .*\.js:\d+/)
    // A command that resolves the default site reads the same file and fails the same way.
    const check = await runCommand(['site', 'check', '--json'], {env: {DVCTL_CONFIG: broken, NATS_URL: ''}})
    expect(check.exitCode).toBe(2)
    expect(check.json().error).toMatchObject({code: 'config-invalid', message: expect.stringContaining(`${broken}:5`)})
  })

  it("a value of the wrong type is named in zod's English message (the bundle keeps zod's English locale alone)", async () => {
    const wrong = join(dir, 'wrong-type.yaml')
    await writeFile(wrong, ['sites:', '  osl1:', '    servers: 5', ''].join('\n'))
    const list = await runCommand(['site', 'list'], {env: {DVCTL_CONFIG: wrong}})
    expect(list.exitCode).toBe(2)
    expect(list.stderr.split('\n')[0]).toBe(
      `Error: Invalid config file ${wrong}:3: sites.osl1.servers: Invalid input: expected array, received number`,
    )
  })
})

describe('site precedence through the CLI', {timeout: 90_000}, () => {
  let a: NatsServerHandle
  let b: NatsServerHandle
  let dir: string
  let config: string
  beforeAll(async () => {
    ;[a, b] = await Promise.all([natsFixture({name: 'osl1'}), natsFixture({name: 'trd1'})])
    dir = await mkdtemp(join(tmpdir(), 'dvctl-site-precedence-'))
    config = join(dir, 'config.yaml')
    await writeFile(
      config,
      `default_site: osl1\nsites:\n  osl1: {servers: ["${a.url}"], js_domain: osl1}\n  trd1: {servers: ["${b.url}"], js_domain: trd1}\n`,
    )
  })
  afterAll(async () => {
    await Promise.all([a?.dispose(), b?.dispose()])
    await rm(dir, {recursive: true, force: true})
  })
  const check = async (args: string[], env: NodeJS.ProcessEnv) => {
    const r = await runCommand(['site', 'check', ...args, '--json'], {
      env: {DVCTL_CONFIG: config, NATS_URL: '', ...env},
    })
    expect(r.exitCode).toBe(0)
    return SiteCheckResult.parse(r.json())
  }

  it('without flags or environment: the default site of the config', async () => {
    expect((await check([], {})).site).toBe('osl1')
  })
  it('NATS_URL wins over the default site', async () => {
    expect((await check([], {NATS_URL: b.url})).url).toBe(b.url)
  })
  it('DV_SITE wins over NATS_URL', async () => {
    expect((await check([], {NATS_URL: a.url, DV_SITE: 'trd1'})).site).toBe('trd1')
  })
  it('--site wins over DV_SITE (and NAME is the same as --site NAME)', async () => {
    expect((await check(['--site', 'osl1'], {DV_SITE: 'trd1'})).site).toBe('osl1')
    expect((await check(['trd1'], {})).jetstream.domain).toBe('trd1')
  })
  it('--server wins over --site and DV_SITE', async () => {
    expect((await check(['--server', b.url, '--site', 'osl1'], {DV_SITE: 'osl1'})).url).toBe(b.url)
  })
})

describe('site import', {timeout: 90_000}, () => {
  let dir: string
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dvctl-site-import-'))
    const contexts = join(dir, 'xdg', 'nats', 'context')
    await mkdir(contexts, {recursive: true})
    await writeFile(
      join(contexts, 'prod-osl.json'),
      JSON.stringify({
        description: 'Oslo production',
        url: 'tls://nats1.osl1.example:4222,nats2.osl1.example:4222',
        creds: '/etc/nats/osl1.creds',
        ca: '/etc/nats/ca.pem',
        cert: '/etc/nats/client.pem',
        key: '/etc/nats/client-key.pem',
        jetstream_domain: 'osl1',
        color_scheme: 'nord',
      }),
    )
    await writeFile(
      join(contexts, 'lab.json'),
      JSON.stringify({url: 'nats://lab:4222', user: 'ops', password: 's3cret'}),
    )
  })
  afterAll(async () => rm(dir, {recursive: true, force: true}))

  it('imports a nats CLI context with url, creds and TLS as a site with the same settings', async () => {
    const config = join(dir, 'one.yaml')
    const r = await runCommand(['site', 'import', 'prod-osl', '--as', 'osl1', '--json'], {
      env: {DVCTL_CONFIG: config, XDG_CONFIG_HOME: join(dir, 'xdg')},
    })
    expect(r.exitCode).toBe(0)
    expect(SiteImportResult.parse(r.json()).imported.map((i) => i.name)).toEqual(['osl1'])
    expect((await loadConfig({path: config})).config).toEqual({
      default_site: 'osl1',
      sites: {
        osl1: {
          servers: ['tls://nats1.osl1.example:4222', 'nats://nats2.osl1.example:4222'],
          creds: '/etc/nats/osl1.creds',
          tls: {ca: '/etc/nats/ca.pem', cert: '/etc/nats/client.pem', key: '/etc/nats/client-key.pem'},
          js_domain: 'osl1',
          description: 'Oslo production',
        },
      },
    })
  })

  it('refuses a context with an inline password (exit 2) and writes nothing', async () => {
    const config = join(dir, 'refused', 'config.yaml')
    const r = await runCommand(['site', 'import'], {env: {DVCTL_CONFIG: config, XDG_CONFIG_HOME: join(dir, 'xdg')}})
    expect(r.exitCode).toBe(2)
    expect(r.stderr).toContain('Error: Inline secret in the nats context lab:')
    expect(r.stderr).toContain('--password-file FILE')
    expect(r.stderr).not.toContain('s3cret')
    await expect(stat(config)).rejects.toMatchObject({code: 'ENOENT'})
  })

  it('with --allow-inline-secret an inline password moves into a 0600 file, never into the config', async () => {
    const config = join(dir, 'all', 'config.yaml')
    const r = await runCommand(['site', 'import', '--allow-inline-secret', '--json'], {
      env: {DVCTL_CONFIG: config, XDG_CONFIG_HOME: join(dir, 'xdg')},
    })
    expect(r.exitCode).toBe(0)
    const result = SiteImportResult.parse(r.json())
    expect(result.imported.map((i) => i.name)).toEqual(['lab', 'prod-osl'])
    expect(r.stderr).toContain('password was moved')
    const lab = (await loadConfig({path: config})).config.sites.lab
    expect(lab).toMatchObject({
      servers: ['nats://lab:4222'],
      user: 'ops',
      password_file: join(dir, 'all', 'secrets', 'lab.password'),
    })
    expect(await readFile(config, 'utf8')).not.toContain('s3cret')
    expect((await readFile(lab.password_file!, 'utf8')).trim()).toBe('s3cret')
    expect((await stat(lab.password_file!)).mode & 0o777).toBe(0o600)

    const again = await runCommand(['site', 'import', 'lab', '--allow-inline-secret', '--json'], {
      env: {DVCTL_CONFIG: config, XDG_CONFIG_HOME: join(dir, 'xdg')},
    })
    expect(SiteImportResult.parse(again.json()).skipped).toEqual([
      {context: 'lab', reason: 'site lab already exists (use --force to replace it)'},
    ])
  })

  it('an unknown context is exit 5', async () => {
    const r = await runCommand(['site', 'import', 'nope'], {
      env: {DVCTL_CONFIG: join(dir, 'x.yaml'), XDG_CONFIG_HOME: join(dir, 'xdg')},
    })
    expect(r.exitCode).toBe(5)
    expect(r.stderr).toContain('No nats CLI context "nope"')
  })
})

// Issue 13 item 8: config writes are locked, re-read under the lock and atomic, through symlinks.
describe('config writes by concurrent processes', {timeout: 300_000}, () => {
  let dir: string
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dvctl-site-lock-'))
  })
  afterAll(async () => rm(dir, {recursive: true, force: true}))

  it('eight concurrent site add processes leave eight sites, round after round', async () => {
    for (const round of [1, 2, 3]) {
      const config = join(dir, `round${round}`, 'config.yaml')
      const names = Array.from({length: 8}, (_, i) => `dc${i}`)
      const adds = await Promise.all(
        names.map((name, i) =>
          runCommand(['site', 'add', name, '--server', `nats://${name}.example:${4222 + i}`], {
            env: {DVCTL_CONFIG: config},
            timeoutMs: 180_000,
          }),
        ),
      )
      for (const r of adds) expect(r.exitCode, r.stderr).toBe(0)
      const {config: saved} = await loadConfig({path: config})
      expect(Object.keys(saved.sites).sort(), `round ${round}`).toEqual(names)
      expect(names).toContain(saved.default_site)
      // Neither the lock nor a temporary file is left behind.
      expect(await readdir(join(dir, `round${round}`))).toEqual(['config.yaml'])
    }
  })

  it('a symlinked config is updated through the link, which stays a link', async () => {
    await mkdir(join(dir, 'dotfiles'))
    const target = join(dir, 'dotfiles', 'dvctl.yaml')
    await writeFile(target, '# kept in dotfiles\nsites:\n  osl1: {servers: ["nats://a:4222"]}\n')
    const link = join(dir, 'config.yaml')
    await symlink(target, link)
    const env = {DVCTL_CONFIG: link}
    const [add, add2] = await Promise.all([
      runCommand(['site', 'add', 'trd1', '--server', 'nats://b:4222'], {env, timeoutMs: 180_000}),
      runCommand(['site', 'add', 'bgo1', '--server', 'nats://c:4222'], {env, timeoutMs: 180_000}),
    ])
    expect(add.exitCode, add.stderr).toBe(0)
    expect(add2.exitCode, add2.stderr).toBe(0)
    expect((await runCommand(['site', 'use', 'trd1'], {env})).exitCode).toBe(0)
    expect((await lstat(link)).isSymbolicLink()).toBe(true)
    expect(await readlink(link)).toBe(target)
    const text = await readFile(target, 'utf8')
    expect(text).toContain('# kept in dotfiles')
    const {config} = await loadConfig({path: target})
    expect(Object.keys(config.sites).sort()).toEqual(['bgo1', 'osl1', 'trd1'])
    expect(config.default_site).toBe('trd1')
    expect((await stat(target)).mode & 0o777).toBe(0o600)
  })
})
