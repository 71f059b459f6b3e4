import {describe, expect, it} from 'vitest'

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
})
