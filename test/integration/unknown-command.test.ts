import {describe, expect, it} from 'vitest'

import {runCli} from '../helpers/cli.js'
import {runCommand} from '../helpers/run.js'

describe('unknown commands', () => {
  it('dlq lst --json is a JSON usage error suggesting dlq list (exit 2)', async () => {
    const r = await runCommand(['dlq', 'lst', '--json'])
    expect(r.exitCode).toBe(2)
    expect(r.json()).toEqual({
      error: {
        code: 'unknown-command',
        message: 'Unknown command "dlq lst".',
        exitCode: 2,
        hint: 'Did you mean dvctl dlq list?',
      },
    })
  })

  it('without --json says it once on stderr in the house style, nothing on stdout', async () => {
    const r = await runCommand(['tial'])
    expect(r.exitCode).toBe(2)
    expect(r.stdout).toBe('')
    expect(r.stderr).toBe('Error: Unknown command "tial".\nHint: Did you mean dvctl tail?\n')
  })

  it('never echoes an escape sequence typed as a command', async () => {
    const r = await runCommand(['\u001b[31mred'])
    expect(r.exitCode).toBe(2)
    expect(r.stderr).not.toContain('\u001b')
  })

  it('a known command given arguments it does not take is named as such, not as an unknown command', async () => {
    // Through bin/run.js: oclif joins `a` to the command id when dlq list takes no argument.
    const r = await runCli(['dlq', 'list', 'a', '\u001b[2Jb', '--json'])
    expect(r.exitCode).toBe(2)
    expect(r.json().error).toEqual({
      code: 'usage',
      message: 'dvctl dlq list takes no argument; unexpected "a" "\\x1b[2Jb".',
      exitCode: 2,
      hint: 'See dvctl dlq list --help for its flags.',
    })
  })

  it('an unexpected argument is quoted with its escapes visible', async () => {
    const r = await runCommand(['dlq', 'show', 'DV_CMD:1', '\u001b[31mred'])
    expect(r.exitCode).toBe(2)
    expect(r.stderr).toContain('Unexpected argument: \\x1b[31mred')
    expect(r.stderr).not.toContain('\u001b')
  })

  it("a missing argument says so without oclif's note on multiple-value flags, which none of them needs", async () => {
    const bare = await runCommand(['dlq', 'show'])
    expect(bare.exitCode).toBe(2)
    expect(bare.stderr).toMatch(/^Error: Missing 1 required arg:\nref /)
    expect(bare.stderr).not.toContain('multiple values')
  })
})
