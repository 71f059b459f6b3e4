import {execFile} from 'node:child_process'
import {readFileSync, readdirSync, statSync} from 'node:fs'
import {mkdtemp, rm} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join, relative} from 'node:path'
import {fileURLToPath} from 'node:url'
import {promisify} from 'node:util'

import type {Command} from '@oclif/core'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {runCli, testEnv} from '../helpers/cli.js'
import {natsFixture, type NatsServerHandle} from '../helpers/nats.js'
import {runCommand} from '../helpers/run.js'
import {waitFor} from '../helpers/wait.js'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const COMMANDS_DIR = fileURLToPath(new URL('../../src/commands', import.meta.url))

/** Prints oclif's own help texts (from node_modules) for command lines, as JSON. */
const OCLIF_HELP = fileURLToPath(new URL('../helpers/oclif-help.mjs', import.meta.url))

interface CommandEntry {
  id: string
  command: typeof Command
}

function commandFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) return commandFiles(path)
    return name.endsWith('.ts') ? [path] : []
  })
}

async function loadCommands(): Promise<CommandEntry[]> {
  return Promise.all(
    commandFiles(COMMANDS_DIR).map(async (file) => ({
      id: relative(COMMANDS_DIR, file).replace(/\.ts$/, '').split('/').join(' '),
      command: (await import(file)).default as typeof Command,
    })),
  )
}

/** An example as a user reads it in --help. */
function exampleText(id: string, example: string | {command: string}): string {
  const text = typeof example === 'string' ? example : example.command
  return text.replaceAll('<%= config.bin %>', 'dvctl').replaceAll('<%= command.id %>', id)
}

/** Shell words of a simple command line (quotes, no expansions), or undefined when it is a pipeline or redirect. */
function shellWords(line: string): string[] | undefined {
  if (/[|<>;&$`]/.test(line.replaceAll(/'[^']*'|"[^"]*"/g, ''))) return undefined
  return [...line.matchAll(/'([^']*)'|"([^"]*)"|(\S+)/g)].map((m) => m[1] ?? m[2] ?? m[3])
}

describe('help and examples', () => {
  let commands: CommandEntry[]
  beforeAll(async () => {
    commands = await loadCommands()
  })

  it('every command has a summary, a description and at least one example using only its own flags', () => {
    expect(commands.length).toBeGreaterThan(20)
    const problems: string[] = []
    for (const {id, command} of commands) {
      if (!command.summary) problems.push(`${id}: no summary`)
      if (!command.description) problems.push(`${id}: no description`)
      const examples = command.examples ?? []
      if (examples.length === 0) problems.push(`${id}: no examples`)
      const flags = {...(command.baseFlags ?? {}), ...(command.flags ?? {})}
      const names = new Set([...Object.keys(flags), 'json', 'help'])
      const chars = new Set<string>(Object.values(flags).flatMap((f) => (f.char ? [f.char] : [])))
      for (const example of examples) {
        const text = exampleText(id, example as string)
        if (!text.includes(`dvctl ${id}`)) problems.push(`${id}: example does not run the command: ${text}`)
        for (const word of shellWords(text.split(' | ').at(-1)!.split(' > ')[0]) ?? []) {
          if (word.startsWith('--') && !names.has(word.slice(2).split('=')[0])) {
            problems.push(`${id}: example uses unknown flag ${word}: ${text}`)
          } else if (/^-[a-zA-Z]$/.test(word) && !chars.has(word[1])) {
            problems.push(`${id}: example uses unknown flag ${word}: ${text}`)
          }
        }
      }
    }
    expect(problems).toEqual([])
  })

  it('every help text of the bundle is what oclif prints from node_modules', {timeout: 180_000}, async () => {
    // The bundle loads oclif from a code cache, rewrites a few of its slow spots and loads only the command a
    // line names (scripts/build.mjs): none of that may change a character of --help.
    const manifest = JSON.parse(readFileSync(join(ROOT, 'oclif.manifest.json'), 'utf8')) as {
      commands: Record<string, {hidden?: boolean}>
    }
    const ids = Object.keys(manifest.commands).filter((id) => !manifest.commands[id].hidden)
    const topics = new Set(
      ids.flatMap((id) =>
        id
          .split(':')
          .slice(0, -1)
          .map((_, i, w) => w.slice(0, i + 1).join(':')),
      ),
    )
    const subjects = [[], ...[...new Set([...topics, ...ids])].map((id) => id.split(':'))]
    expect(subjects.length).toBeGreaterThan(50)
    const env = testEnv({OCLIF_COLUMNS: '80'})
    const reference = await promisify(execFile)(process.execPath, [OCLIF_HELP, JSON.stringify(subjects)], {env})
    const expected = JSON.parse(reference.stdout) as Record<string, string>
    const differing: string[] = []
    for (let i = 0; i < subjects.length; i += 4) {
      await Promise.all(
        subjects.slice(i, i + 4).map(async (words) => {
          const r = await runCli([...words, '--help'], {env: {OCLIF_COLUMNS: '80'}})
          expect(r.exitCode).toBe(0)
          if (r.stdout !== expected[words.join(' ')]) differing.push(`dvctl ${words.join(' ')} --help`)
        }),
      )
    }
    expect(differing).toEqual([])
  })

  it('help for a command shows its usage, flags and examples', async () => {
    const r = await runCli(['help', 'demo'])
    expect(r.exitCode).toBe(0)
    expect(r.stdout).toContain('USAGE')
    expect(r.stdout).toContain('$ dvctl demo')
    expect(r.stdout).toContain('EXAMPLES')
    expect(r.stdout).toContain('--sandbox')
    const doctor = await runCli(['doctor', '--help'])
    expect(doctor.exitCode).toBe(0)
    expect(doctor.stdout).toContain('$ dvctl doctor --all-sites')
  })

  it('help for a topic lists its commands with their summaries', async () => {
    const r = await runCli(['help', 'dlq'])
    expect(r.exitCode).toBe(0)
    expect(r.stdout).toMatch(/dlq list\s+List dead letters/)
    const root = await runCli(['help'])
    expect(root.exitCode).toBe(0)
    for (const topic of ['dlq', 'layout', 'site', 'workflow', 'demo', 'doctor']) expect(root.stdout).toContain(topic)
  })
})

describe('shell completion', () => {
  let cache: string
  beforeAll(async () => {
    cache = await mkdtemp(join(tmpdir(), 'dvctl-ac-'))
  })
  afterAll(async () => {
    if (cache) await rm(cache, {recursive: true, force: true})
  })

  it('autocomplete bash builds the completion and prints the setup; the script completes commands and flags', async () => {
    const env = {XDG_CACHE_HOME: cache}
    const setup = await runCli(['autocomplete', 'bash'], {env})
    expect(setup.exitCode).toBe(0)
    expect(setup.stdout).toContain('dvctl autocomplete script bash')

    const script = await runCli(['autocomplete', 'script', 'bash'], {env})
    expect(script.exitCode).toBe(0)
    const setupFile = join(cache, 'dvctl', 'autocomplete', 'bash_setup')
    expect(script.stdout).toContain(`DVCTL_AC_BASH_SETUP_PATH=${setupFile}`)

    // Source what the user adds to ~/.bashrc, then ask the completion function as bash would on <TAB>.
    const complete = async (...words: string[]) => {
      const program = [
        script.stdout,
        `COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}`,
        '_dvctl_autocomplete; printf "%s\\n" "${COMPREPLY[@]}"',
      ].join('\n')
      const {stdout} = await promisify(execFile)('bash', ['-c', program])
      return stdout.trim().split('\n')
    }
    expect(await complete('dvctl', 'do')).toEqual(['doctor'])
    expect(await complete('dvctl', 'doctor', '--st')).toEqual(['--stall-after'])
    expect(await complete('dvctl', 'dlq', 'rep')).toContain('replay')
  })
})

describe('examples work as written against the demo', {timeout: 180_000}, () => {
  let server: NatsServerHandle
  let commands: CommandEntry[]
  // A site as it should run: with dlq capture (else doctor rightly reports its dead letters' originals at risk).
  const capture = new AbortController()
  let captured: Promise<unknown> = Promise.resolve()
  beforeAll(async () => {
    server = await natsFixture({name: 'osl1'})
    commands = await loadCommands()
    const demo = await runCli(['demo', '--server', server.url, '--yes', '--step-delay', '0', '--json'])
    expect(demo.exitCode).toBe(0)
    captured = runCommand(['dlq', 'capture', '--server', server.url], {signal: capture.signal})
    await waitFor(
      async () => {
        const r = await runCommand(['doctor', '--server', server.url, '--json'])
        return r.exitCode === 0 ? true : undefined
      },
      {what: 'doctor healthy with a capture running'},
    )
  }, 90_000)
  afterAll(async () => {
    capture.abort()
    await captured
    await server?.dispose()
  })

  it('every read-only example without placeholders exits 0 on the default site', async () => {
    // Examples that need files, other sites, placeholder ids, a terminal or that change things are left out.
    const readOnly = [
      'dlq list',
      'dlq history',
      'layout plan',
      'layout export',
      'site check',
      'task list',
      'tail',
      'doctor',
    ]
    const placeholder = /DV_CMD:42|[0-9a-f]{8}-[0-9a-f]{4}-|\.ya?ml|\.json\b|osl1|trd1|--all-sites|--follow|nats:\/\//
    const runnable = commands
      .filter((c) => readOnly.includes(c.id))
      .flatMap((c) => (c.command.examples ?? []).map((e) => exampleText(c.id, e as string)))
      .filter((text) => !placeholder.test(text))
      .map((text) => ({text, words: shellWords(text)}))
      .filter((e): e is {text: string; words: string[]} => e.words !== undefined)
    expect(runnable.length).toBeGreaterThanOrEqual(10)
    const results: Array<{text: string; exitCode: number; stderr: string}> = []
    for (let i = 0; i < runnable.length; i += 4) {
      const batch = runnable.slice(i, i + 4)
      results.push(
        ...(await Promise.all(
          batch.map(async ({text, words}) => {
            const r = await runCli(words.slice(1), {env: {NATS_URL: server.url}, timeoutMs: 60_000})
            // The error is kept so a failure says why, not only which example.
            return {text, exitCode: r.exitCode, stderr: r.exitCode === 0 ? '' : r.stderr}
          }),
        )),
      )
    }
    expect(results.filter((r) => r.exitCode !== 0)).toEqual([])
  })
})
