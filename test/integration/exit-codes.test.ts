// Exit code 1 of the README's table: anything that escapes a command and is not a UserError is a bug. The
// other codes are asserted by the tests of the commands that end with them (grep `toBe(<code>)`); no
// command fails this way on purpose, so a command made for this test throws what a bug would.
import {fileURLToPath} from 'node:url'

import {Config} from '@oclif/core'
import {describe, expect, it} from 'vitest'

const dist = (p: string) => new URL(`../../dist/${p}`, import.meta.url).href

async function runBroken(argv: string[], env: NodeJS.ProcessEnv = {}) {
  const [{BaseCommand}, {withContext}, {memoryOutput}] = await Promise.all([
    import(dist('cli/base-command.js')) as Promise<typeof import('../../src/cli/base-command.js')>,
    import(dist('lib/context.js')) as Promise<typeof import('../../src/lib/context.js')>,
    import(dist('lib/render/output.js')) as Promise<typeof import('../../src/lib/render/output.js')>,
  ])
  class Broken extends BaseCommand<typeof Broken> {
    async run(): Promise<void> {
      const value = undefined as unknown as {field: string}
      // A TypeError, as a forgotten check would throw it.
      void value.field.length
    }
  }
  const config = await Config.load({root: fileURLToPath(new URL('../..', import.meta.url))})
  const io = memoryOutput({input: ''})
  let exitCode = 0
  try {
    await withContext({output: io, env: {...process.env, NO_COLOR: '1', ...env}}, () => Broken.run(argv, config))
  } catch (error) {
    exitCode = (error as {oclif?: {exit?: number}}).oclif?.exit ?? -1
  }
  return {exitCode, stdout: io.stdout(), stderr: io.stderr()}
}

describe('exit code 1: a bug', () => {
  it('is exit 1 with a one-line message and no stack, pointing at DEBUG', async () => {
    const r = await runBroken([])
    expect(r.exitCode).toBe(1)
    expect(r.stderr).toMatch(/^Error: Unexpected error: .*undefined/)
    expect(r.stderr).toContain('This is a bug in dvctl. Run again with DEBUG=dvctl* for the stack.')
    expect(r.stderr).not.toMatch(/\n\s+at /)
  })

  it('with --json it is the error document with code bug and exitCode 1', async () => {
    const r = await runBroken(['--json'])
    expect(r.exitCode).toBe(1)
    expect(JSON.parse(r.stdout)).toMatchObject({error: {code: 'bug', exitCode: 1}})
  })

  it('with DEBUG the stack is shown', async () => {
    const r = await runBroken([], {DEBUG: 'dvctl*'})
    expect(r.exitCode).toBe(1)
    expect(r.stderr).toMatch(/TypeError: .*\n\s+at /)
  })
})
