// The package a user installs (README, "Install"): `npm pack` of this repository (after `npm run build`),
// installed with `npm install -g` into a temporary prefix, offline (the package has no dependencies: everything
// is in its bundle), then run from that prefix with nothing but Node and, for the sandbox, nats-server on PATH:
// no node_modules of this repository is reachable from there.
import {execFile} from 'node:child_process'
import {accessSync, constants} from 'node:fs'
import {mkdir, mkdtemp, readdir, rm} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {delimiter, dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {DemoResult} from '../../src/lib/demo/run.js'
import {SubjectAnalysis} from '../../src/lib/contract/subject-schema.js'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))

interface Run {
  code: number
  stdout: string
  stderr: string
}

function run(file: string, args: string[], options: {cwd: string; env: NodeJS.ProcessEnv}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(file, args, {...options, timeout: 120_000, maxBuffer: 16 * 2 ** 20}, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0
      resolve({code, stdout, stderr})
    })
  })
}

/** The directory of the `nats-server` the tests use (vitest.config.ts puts DV_TEST_NATS_SERVER first on PATH). */
function natsServerDir(): string {
  for (const dir of (process.env.PATH ?? '').split(delimiter).filter(Boolean)) {
    try {
      accessSync(join(dir, 'nats-server'), constants.X_OK)
      return dir
    } catch {
      // not here
    }
  }
  throw new Error('nats-server is not on PATH')
}

describe('npm pack, npm install -g of the tarball, run from the install', {timeout: 180_000}, () => {
  let dir: string
  let env: NodeJS.ProcessEnv
  let dvctl: string

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dvctl-pack-'))
    const prefix = join(dir, 'prefix')
    const home = join(dir, 'home')
    await mkdir(home)
    const nodeDir = dirname(process.execPath)
    const npm = join(nodeDir, 'npm')
    // npm itself needs only Node; its cache is a fresh one, so nothing comes from a registry or another cache.
    const npmEnv = {PATH: nodeDir, HOME: home, npm_config_cache: join(dir, 'npm-cache')}

    const pack = await run(npm, ['pack', '--json', '--pack-destination', dir], {cwd: ROOT, env: npmEnv})
    expect(pack.code, pack.stderr).toBe(0)
    const [{filename}] = JSON.parse(pack.stdout) as Array<{filename: string}>
    const tarball = join(dir, filename)

    const install = await run(
      npm,
      ['install', '--global', '--prefix', prefix, '--offline', '--no-audit', '--no-fund', tarball],
      {cwd: dir, env: npmEnv},
    )
    expect(install.code, install.stderr).toBe(0)
    dvctl = join(prefix, 'bin', 'dvctl')
    // What the user's shell has: the installed dvctl, nats-server (the tests' one before any other), Node; a config
    // and state of its own.
    env = {
      PATH: [join(prefix, 'bin'), natsServerDir(), nodeDir].join(delimiter),
      HOME: home,
      XDG_STATE_HOME: join(dir, 'state'),
      XDG_CACHE_HOME: join(dir, 'cache'),
      DVCTL_CONFIG: join(dir, 'config.yaml'),
      NO_COLOR: '1',
    }
  }, 180_000)

  afterAll(async () => {
    if (!dir) return
    if (env) await run(dvctl, ['sandbox', 'down'], {cwd: dir, env})
    await rm(dir, {recursive: true, force: true})
  })

  it('installs the bundle alone: no node_modules, no dependencies', async () => {
    const installed = join(dir, 'prefix', 'lib', 'node_modules', 'dvctl')
    expect((await readdir(installed)).sort()).toEqual(
      ['README.md', 'bin', 'dist', 'oclif.manifest.json', 'package.json'].sort(),
    )
  })

  it('dvctl --help lists the topics and commands', async () => {
    const r = await run(dvctl, ['--help'], {cwd: dir, env})
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toContain('$ dvctl [COMMAND]')
    for (const word of ['dlq', 'contract', 'sandbox', 'demo', 'autocomplete']) expect(r.stdout).toContain(word)
  })

  it('dvctl contract subject checks a subject, with --json', async () => {
    const r = await run(dvctl, ['contract', 'subject', 'dv.maskin.cmd.provision', '--json'], {cwd: dir, env})
    expect(r.code, r.stderr).toBe(0)
    expect(SubjectAnalysis.parse(JSON.parse(r.stdout))).toMatchObject({valid: true, family: 'cmd', service: 'maskin'})
    const bad = await run(dvctl, ['contract', 'subject', 'dv.nope.cmd.x'], {cwd: dir, env})
    expect(bad.code).toBe(2)
    expect(bad.stdout).toContain('unknown-service')
  })

  it('dvctl demo --sandbox starts local sites with the nats-server on PATH and runs the workflows', async () => {
    const r = await run(dvctl, ['demo', '--sandbox', '--timeout', '2s', '--step-delay', '0', '--json'], {
      cwd: dir,
      env,
    })
    expect(r.code, r.stderr).toBe(0)
    const result = DemoResult.parse(JSON.parse(r.stdout))
    expect(result.sites.map((s) => s.site)).toEqual(['osl1', 'trd1'])
    expect(result.workflows.map((w) => w.outcome)).toContain('succeeded')
    const list = await run(dvctl, ['dlq', 'list', '--site', 'osl1', '--json'], {cwd: dir, env})
    expect(list.code, list.stderr).toBe(0)
    expect(JSON.parse(list.stdout).dead_letters.map((d: {ref: string}) => d.ref)).toEqual([result.dead_letter.ref])
  })
})
