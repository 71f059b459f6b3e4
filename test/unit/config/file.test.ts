import {lstat, mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile} from 'node:fs/promises'
import {tmpdir, userInfo} from 'node:os'
import {join} from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {
  configPath,
  loadConfig,
  operatorActor,
  parseConfig,
  saveConfig,
  updateConfig,
} from '../../../src/lib/config/file.js'

describe('config file', () => {
  let dir: string
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dvctl-config-'))
  })
  afterAll(async () => rm(dir, {recursive: true, force: true}))

  it('is found through DVCTL_CONFIG, then XDG_CONFIG_HOME, then ~/.config', () => {
    expect(configPath({DVCTL_CONFIG: '/a/b.yaml', XDG_CONFIG_HOME: '/x'})).toBe('/a/b.yaml')
    expect(configPath({XDG_CONFIG_HOME: '/x', HOME: '/h'})).toBe('/x/dvctl/config.yaml')
    expect(configPath({HOME: '/h'})).toBe('/h/.config/dvctl/config.yaml')
  })

  it('a missing file is an empty config', async () => {
    const loaded = await loadConfig({path: join(dir, 'none.yaml')})
    expect(loaded).toEqual({path: join(dir, 'none.yaml'), exists: false, config: {sites: {}}})
  })

  it('round-trips through save and load, written with mode 0600 and no temporary file left', async () => {
    const path = join(dir, 'sub', 'config.yaml')
    const config = {
      default_site: 'osl1',
      actor: 'ola.nordmann',
      sites: {osl1: {servers: ['nats://a:4222'], js_domain: 'osl1', tls: {ca: '/ca.pem'}, description: 'Oslo'}},
    }
    await saveConfig(path, config)
    expect((await loadConfig({path})).config).toEqual(config)
    expect((await stat(path)).mode & 0o777).toBe(0o600)
    expect(await readdir(join(dir, 'sub'))).toEqual(['config.yaml'])
  })

  it('accepts JSON too (YAML is a superset)', async () => {
    const config = await parseConfig('{"sites": {"osl1": {"servers": ["nats://a:1"]}}}', 'x.json')
    expect(config.sites.osl1.servers).toEqual(['nats://a:1'])
  })

  it('an unknown key is an error naming the file, line and key', async () => {
    const text = ['default_site: osl1', 'sites:', '  osl1:', '    servers: [nats://a:4222]', '    passwrd: x', ''].join(
      '\n',
    )
    await expect(parseConfig(text, '/etc/dvctl.yaml')).rejects.toMatchObject({
      exitCode: 2,
      code: 'config-invalid',
      message: 'Invalid config file /etc/dvctl.yaml:5: sites.osl1.passwrd: unknown key "passwrd"',
    })
  })

  it('a bad value names its line', async () => {
    const text = ['sites:', '  osl1:', '    servers: []', ''].join('\n')
    await expect(parseConfig(text, '/c.yaml')).rejects.toThrow(
      /^Invalid config file \/c\.yaml:3: sites\.osl1\.servers: /,
    )
  })

  it('broken YAML names its line', async () => {
    const path = join(dir, 'broken.yaml')
    await writeFile(path, 'sites:\n  osl1: {servers: [nats://a\n')
    await expect(loadConfig({path})).rejects.toThrow(new RegExp(`^Invalid config file ${path}:\\d+: `))
  })

  it('operatorActor is the config actor, else the OS user', () => {
    expect(operatorActor({actor: 'kari', sites: {}})).toBe('kari')
    expect(operatorActor({sites: {}})).toBe(userInfo().username)
  })
})

describe('config edits keep the rest of the file', () => {
  it('site changes rewrite only the changed site; comments elsewhere survive', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'dvctl-config-edit-'))
    try {
      const path = join(dir, 'config.yaml')
      await writeFile(
        path,
        [
          '# our sites',
          'actor: kari # who we are',
          'default_site: osl1',
          'sites:',
          '  # Oslo, primary',
          '  osl1: {servers: ["nats://a:4222"]}',
          '  trd1: {servers: ["nats://b:4222"]}',
          '',
        ].join('\n'),
      )
      await updateConfig({path}, (config) => {
        delete config.sites.trd1
        config.sites.bgo1 = {servers: ['nats://c:4222'], js_domain: 'bgo1'}
      })
      const text = await readFile(path, 'utf8')
      expect(text).toContain('# our sites')
      expect(text).toContain('actor: kari # who we are')
      expect(text).toContain('# Oslo, primary')
      expect(text).not.toContain('trd1')
      expect((await loadConfig({path})).config).toEqual({
        actor: 'kari',
        default_site: 'osl1',
        sites: {osl1: {servers: ['nats://a:4222']}, bgo1: {servers: ['nats://c:4222'], js_domain: 'bgo1'}},
      })
    } finally {
      await rm(dir, {recursive: true, force: true})
    }
  })
})

describe('an update that leaves nothing configured (removeIfEmpty, sandbox down)', () => {
  it('removes the file only when asked and only when nothing is left; says whether the update created it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'dvctl-config-empty-'))
    try {
      const path = join(dir, 'config.yaml')
      const site = {servers: ['nats://a:4222']}
      expect((await updateConfig({path}, (c) => void (c.sites.osl1 = site))).created).toBe(true)
      expect((await updateConfig({path}, (c) => void (c.sites.trd1 = site))).created).toBe(false)
      // Something is left (trd1): written, not removed.
      await updateConfig({path, removeIfEmpty: true}, (c) => void delete c.sites.osl1)
      expect(Object.keys((await loadConfig({path})).config.sites)).toEqual(['trd1'])
      // Not asked: an empty config is written and stays (it means "no sites", not "no config").
      await updateConfig({path}, (c) => void delete c.sites.trd1)
      expect(await readFile(path, 'utf8')).toContain('sites: {}')
      // Asked, with an actor still set: kept.
      await updateConfig({path}, (c) => void (c.actor = 'kari'))
      await updateConfig({path, removeIfEmpty: true}, () => {})
      expect((await loadConfig({path})).config.actor).toBe('kari')
      // Asked, and nothing is left: the file is gone, as before the first update.
      const r = await updateConfig({path, removeIfEmpty: true}, (c) => void delete c.actor)
      expect(r.exists).toBe(false)
      await expect(stat(path)).rejects.toMatchObject({code: 'ENOENT'})
      expect(await readdir(dir)).toEqual([])
    } finally {
      await rm(dir, {recursive: true, force: true})
    }
  })
})

describe('config writes are locked, atomic and follow symlinks', () => {
  let dir: string
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dvctl-config-lock-'))
  })
  afterAll(async () => rm(dir, {recursive: true, force: true}))

  it('concurrent updates in one process all land, and no lock or temporary file is left', async () => {
    const path = join(dir, 'many', 'config.yaml')
    const names = Array.from({length: 12}, (_, i) => `s${i}`)
    await Promise.all(
      names.map((name) =>
        updateConfig({path}, (config) => {
          config.sites[name] = {servers: [`nats://${name}:4222`]}
        }),
      ),
    )
    expect(Object.keys((await loadConfig({path})).config.sites).sort()).toEqual([...names].sort())
    expect(await readdir(join(dir, 'many'))).toEqual(['config.yaml'])
  })

  it('a symlinked config is changed in its target; the link stays a link', async () => {
    await mkdir(join(dir, 'real'))
    const target = join(dir, 'real', 'dvctl.yaml')
    await writeFile(target, 'sites:\n  osl1: {servers: ["nats://a:4222"]}\n', {mode: 0o644})
    const link = join(dir, 'link.yaml')
    await symlink(target, link)
    await updateConfig({path: link}, (config) => {
      config.sites.trd1 = {servers: ['nats://b:4222']}
    })
    expect((await lstat(link)).isSymbolicLink()).toBe(true)
    expect(Object.keys((await loadConfig({path: target})).config.sites)).toEqual(['osl1', 'trd1'])
    expect((await stat(target)).mode & 0o777).toBe(0o600)
    // The temporary file was renamed in the target's directory, not beside the link.
    expect(await readdir(join(dir, 'real'))).toEqual(['dvctl.yaml'])
  })

  it('a link to a config not written yet (and a chain of links) creates the target', async () => {
    const target = join(dir, 'later', 'config.yaml')
    await mkdir(join(dir, 'later'))
    await symlink(target, join(dir, 'first.yaml'))
    await symlink(join(dir, 'first.yaml'), join(dir, 'second.yaml'))
    await updateConfig({path: join(dir, 'second.yaml')}, (config) => {
      config.sites.bgo1 = {servers: ['nats://c:4222']}
    })
    expect((await lstat(join(dir, 'second.yaml'))).isSymbolicLink()).toBe(true)
    expect((await lstat(join(dir, 'first.yaml'))).isSymbolicLink()).toBe(true)
    expect(Object.keys((await loadConfig({path: target})).config.sites)).toEqual(['bgo1'])
  })

  it('a change that throws writes nothing and releases the lock', async () => {
    const path = join(dir, 'throws.yaml')
    await writeFile(path, 'sites: {}\n')
    await expect(
      updateConfig({path}, () => {
        throw new Error('no')
      }),
    ).rejects.toThrow('no')
    expect(await readFile(path, 'utf8')).toBe('sites: {}\n')
    await updateConfig({path}, (config) => {
      config.default_site = 'x'
    })
    expect((await loadConfig({path})).config.default_site).toBe('x')
  })
})
