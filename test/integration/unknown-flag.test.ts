import {describe, expect, it} from 'vitest'

import {runCommand} from '../helpers/run.js'

describe('unknown flags', () => {
  it('dlq list --stauts --json is a JSON usage error suggesting --status (exit 2)', async () => {
    const r = await runCommand(['dlq', 'list', '--stauts', 'pending', '--json'])
    expect(r.exitCode).toBe(2)
    expect(r.json()).toEqual({
      error: {code: 'unknown-flag', message: 'Unknown flag --stauts.', exitCode: 2, hint: 'Did you mean --status?'},
    })
  })

  it('without --json says it once on stderr in the house style', async () => {
    const r = await runCommand(['tail', '--folow'])
    expect(r.exitCode).toBe(2)
    expect(r.stdout).toBe('')
    expect(r.stderr).toBe('Error: Unknown flag --folow.\nHint: Did you mean --follow?\n')
  })

  it('suggests the global flags too (--sit -> --site)', async () => {
    const r = await runCommand(['dlq', 'list', '--sit', 'osl1', '--json'])
    expect(r.exitCode).toBe(2)
    expect(r.json<{error: {hint: string}}>().error.hint).toBe('Did you mean --site?')
  })

  it('with nothing near, points at --help', async () => {
    const r = await runCommand(['dlq', 'list', '--zzzzzzzz', '--json'])
    expect(r.exitCode).toBe(2)
    expect(r.json<{error: {code: string; hint: string}}>().error).toMatchObject({
      code: 'unknown-flag',
      hint: 'See --help for the flags and arguments.',
    })
  })

  it('never echoes an escape sequence typed as a flag', async () => {
    const r = await runCommand(['dlq', 'list', '--st\u001b[31matus'])
    expect(r.exitCode).toBe(2)
    expect(r.stderr).not.toContain('\u001b')
  })

  it("a value outside a flag's options is still a usage error (exit 2)", async () => {
    const r = await runCommand(['dlq', 'list', '--status', 'bogus', '--json'])
    expect(r.exitCode).toBe(2)
    expect(r.json<{error: {code: string; message: string}}>().error).toMatchObject({code: 'usage'})
    expect(r.json<{error: {message: string}}>().error.message).toContain('bogus')
  })
})
