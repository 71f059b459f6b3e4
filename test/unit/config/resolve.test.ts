import {mkdtemp, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {resolveSites} from '../../../src/lib/config/resolve.js'
import {UserError} from '../../../src/lib/errors.js'

// One test per step of the precedence of docs/operations.md, "Sites and configuration":
// --server > --site > DV_SITE > NATS_URL > default site in config > nats://127.0.0.1:4222 (no config file only).
describe('resolveSites precedence', () => {
  let dir: string
  let config: string
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dvctl-resolve-'))
    config = join(dir, 'config.yaml')
    await writeFile(
      config,
      [
        'default_site: osl1',
        'sites:',
        '  osl1: {servers: ["nats://osl1.example:4222"], js_domain: osl1, creds: osl1.creds}',
        '  trd1: {servers: ["nats://trd1.example:4222", "nats://trd1b.example:4222"], js_domain: trd1}',
        '',
      ].join('\n'),
    )
  })
  afterAll(async () => rm(dir, {recursive: true, force: true}))

  const env = (extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => ({DVCTL_CONFIG: config, ...extra})
  const all = {DV_SITE: 'trd1', NATS_URL: 'nats://from-env:4222'}

  it('--server wins over everything', async () => {
    const [t] = await resolveSites({server: 'nats://flag:4222', site: ['trd1']}, env(all))
    expect(t.servers).toEqual(['nats://flag:4222'])
    expect(t.name).toBe('flag:4222')
  })

  it('--site wins over DV_SITE, NATS_URL and the default; it resolves from the config', async () => {
    const targets = await resolveSites({site: ['osl1']}, env(all))
    expect(targets).toEqual([
      {name: 'osl1', servers: ['nats://osl1.example:4222'], js_domain: 'osl1', creds: join(dir, 'osl1.creds')},
    ])
  })

  it('--site repeated selects several sites; a comma-separated value is refused, naming the repeated form', async () => {
    const targets = await resolveSites({site: ['osl1', 'trd1']}, env())
    expect(targets.map((t) => t.name)).toEqual(['osl1', 'trd1'])
    await expect(resolveSites({site: ['trd1,osl1']}, env())).rejects.toMatchObject({
      code: 'site-list',
      exitCode: 2,
      hint: 'Repeat the flag for several sites: --site trd1 --site osl1.',
    })
  })

  it('--all-sites selects every site in the config', async () => {
    const targets = await resolveSites({allSites: true}, env(all))
    expect(targets.map((t) => t.name)).toEqual(['osl1', 'trd1'])
    expect(targets[1].servers).toEqual(['nats://trd1.example:4222', 'nats://trd1b.example:4222'])
  })

  it('DV_SITE wins over NATS_URL and the default site', async () => {
    const [t] = await resolveSites({}, env(all))
    expect(t.name).toBe('trd1')
  })

  it('NATS_URL wins over the default site, with NATS_CREDS', async () => {
    const [t] = await resolveSites({}, env({NATS_URL: 'nats://from-env:4222', NATS_CREDS: '/x.creds'}))
    expect(t).toEqual({name: 'from-env:4222', servers: ['nats://from-env:4222'], byUrl: true, creds: '/x.creds'})
  })

  it('the default site is used when nothing else is given', async () => {
    const [t] = await resolveSites({}, env())
    expect(t.name).toBe('osl1')
  })

  it('falls back to nats://127.0.0.1:4222 without config', async () => {
    const [t] = await resolveSites({}, {DVCTL_CONFIG: join(dir, 'missing.yaml')})
    expect(t).toEqual({name: 'local', servers: ['nats://127.0.0.1:4222'], byUrl: true})
  })

  it('with sites configured and no default, refuses (exit 2) naming the sites instead of assuming 4222', async () => {
    const noDefault = join(dir, 'no-default.yaml')
    await writeFile(
      noDefault,
      'sites:\n  osl1: {servers: ["nats://osl1.example:4222"]}\n  trd1: {servers: ["nats://trd1.example:4222"]}\n',
    )
    const error = await resolveSites({}, {DVCTL_CONFIG: noDefault}).catch((e) => e)
    expect(error).toBeInstanceOf(UserError)
    expect(error).toMatchObject({exitCode: 2, code: 'no-site-chosen'})
    expect(error.message).toContain('osl1, trd1')
    expect(error.hint).toContain('--site osl1')
  })

  it('an existing config without sites is no licence to assume 4222 either', async () => {
    const empty = join(dir, 'empty.yaml')
    await writeFile(empty, 'sites: {}\n')
    const error = await resolveSites({}, {DVCTL_CONFIG: empty}).catch((e) => e)
    expect(error).toMatchObject({exitCode: 2, code: 'no-site-chosen'})
  })

  it('--creds overrides a named site’s credentials', async () => {
    const [t] = await resolveSites({site: ['osl1'], creds: '/other.creds'}, env())
    expect(t.creds).toBe('/other.creds')
  })

  it('an unknown site is a usage error naming the known sites', async () => {
    const error = await resolveSites({site: ['bergen']}, env()).catch((e) => e)
    expect(error).toBeInstanceOf(UserError)
    expect(error.exitCode).toBe(2)
    expect(error.message).toContain('Unknown site "bergen"')
    expect(error.message).toContain('osl1, trd1')
  })

  it('--all-sites without any site in the config is a usage error', async () => {
    const error = await resolveSites({allSites: true}, {DVCTL_CONFIG: join(dir, 'missing.yaml')}).catch((e) => e)
    expect(error.exitCode).toBe(2)
    expect(error.code).toBe('no-sites')
  })
})
