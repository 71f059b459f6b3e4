import {afterEach, describe, expect, it} from 'vitest'

import {commandsToLoad, setCommandLine} from '../../src/cli/command-line.js'

const IDS = ['dlq:jobs', 'dlq:jobs:cancel', 'dlq:list', 'help', 'contract:subject']

describe('which commands a start loads', () => {
  afterEach(() => {
    delete (globalThis as Record<symbol, unknown>)[Symbol.for('dvctl.command-line')]
  })

  it('loads every command when no command line was handed over (manifest generation, in-process tests)', () => {
    expect(commandsToLoad(IDS)).toEqual(IDS)
  })

  it('loads the commands the words before the first flag can name, as oclif joins them', () => {
    setCommandLine(['dlq', 'jobs', 'cancel', 'job-1', '--json'])
    expect(commandsToLoad(IDS)).toEqual(['dlq:jobs', 'dlq:jobs:cancel'])
    setCommandLine(['contract', 'subject', 'dv.maskin.cmd.provision'])
    expect(commandsToLoad(IDS)).toEqual(['contract:subject'])
    setCommandLine(['dlq:list', '--json'])
    expect(commandsToLoad(IDS)).toEqual(['dlq:list'])
    setCommandLine(['help', 'dlq', 'list'])
    expect(commandsToLoad(IDS)).toEqual(['help'])
  })

  it('loads none for a line that names no command (oclif then answers from the manifest)', () => {
    setCommandLine(['--json', 'dlq', 'list'])
    expect(commandsToLoad(IDS)).toEqual([])
    setCommandLine(['dlq', 'lst'])
    expect(commandsToLoad(IDS)).toEqual([])
  })
})
