import {spawn} from 'node:child_process'

import {afterEach, describe, expect, it, vi} from 'vitest'

import {stopProcess} from '../../../src/lib/sandbox/nats-server.js'

describe('stopProcess', () => {
  afterEach(() => vi.restoreAllMocks())

  it('takes a process that exits on its own just before the SIGKILL as stopped, not as an error', async () => {
    // A real process of ours that "ignores" SIGTERM (the spy swallows it) and exits by itself as its grace ends:
    // the SIGKILL then finds no such process (ESRCH), as it does when a server takes the whole grace to shut down.
    const child = spawn('sleep', ['30.5'], {stdio: 'ignore'})
    const exited = new Promise((resolve) => child.once('exit', resolve))
    const kill = process.kill.bind(process)
    vi.spyOn(process, 'kill').mockImplementation((pid: number, signal?: string | number) => {
      if (signal === 'SIGTERM') return true
      if (signal === 'SIGKILL') {
        child.kill('SIGKILL')
        throw Object.assign(new Error(`kill ESRCH`), {code: 'ESRCH'})
      }
      return kill(pid, signal)
    })
    await expect(stopProcess(child.pid!, ['sleep', '30.5'], 100)).resolves.toBe(true)
    await exited
    expect(child.signalCode).toBe('SIGKILL')
  })

  it('leaves a process that is not ours alone', async () => {
    const child = spawn('sleep', ['30.6'], {stdio: 'ignore'})
    try {
      await expect(stopProcess(child.pid!, ['nats-server'], 100)).resolves.toBe(false)
      expect(child.exitCode).toBeNull()
    } finally {
      child.kill()
    }
  })
})
