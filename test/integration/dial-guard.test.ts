import {spawn} from 'node:child_process'
import {createServer, type Server, type Socket} from 'node:net'
import {fileURLToPath} from 'node:url'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

const CONNECTION = fileURLToPath(new URL('../../dist/lib/nats/connection.js', import.meta.url))
const ROOT = fileURLToPath(new URL('../../', import.meta.url))

/** Runs an ES module script in a fresh node; resolves when it exits, or with `exited: false` after `ms`. */
function runScript(source: string, ms: number): Promise<{exited: boolean; stdout: string; stderr: string}> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', source], {cwd: ROOT})
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => (stdout += d))
    child.stderr.on('data', (d) => (stderr += d))
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      resolve({exited: false, stdout, stderr})
    }, ms)
    child.on('exit', () => {
      clearTimeout(timer)
      resolve({exited: true, stdout, stderr})
    })
  })
}

/**
 * Issue 14 item 6: a dial that times out before the server's INFO must not keep the process alive. The
 * "server" here accepts TCP connections and never says anything (a hung server, a proxy, a firewall).
 */
describe('a dial that times out before INFO', {timeout: 60_000}, () => {
  let silent: Server
  const held: Socket[] = []
  let url: string

  beforeAll(async () => {
    silent = createServer((socket) => held.push(socket))
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve))
    const address = silent.address()
    url = `nats://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`
  })
  afterAll(async () => {
    for (const s of held) s.destroy()
    await new Promise((resolve) => silent.close(resolve))
  })

  it('the client alone leaves its socket open and the process running (the upstream bug)', async () => {
    // If this starts failing, the client closes such sockets itself: src/lib/nats/dial-guard.ts can go.
    const r = await runScript(
      `import {createRequire} from 'node:module'
       const {connect} = createRequire(${JSON.stringify(ROOT + 'package.json')})('@nats-io/transport-node')
       await connect({servers: ${JSON.stringify(url)}, timeout: 300}).catch((e) => console.log(e.name))`,
      4000,
    )
    expect(r.stdout.trim()).toBe('TimeoutError')
    expect(r.exited).toBe(false)
  })

  it('connectSite fails with connection-timeout (exit 4) and the process exits by itself', async () => {
    const r = await runScript(
      `const {connectSite} = await import(${JSON.stringify(CONNECTION)})
       await connectSite({name: 'silent', servers: [${JSON.stringify(url)}]}, {timeoutMs: 300}).catch((e) =>
         console.log(JSON.stringify({code: e.code, exitCode: e.exitCode, message: e.message})))`,
      15_000,
    )
    expect(r.stderr).toBe('')
    expect(r.exited).toBe(true)
    expect(JSON.parse(r.stdout)).toEqual({
      code: 'connection-timeout',
      exitCode: 4,
      message: `Site silent (${url}): timed out after 300ms`,
    })
  })

  it('two servers in one site, both silent: every socket the dial opened is closed', async () => {
    const r = await runScript(
      `const {connectSite} = await import(${JSON.stringify(CONNECTION)})
       await connectSite({name: 'silent', servers: [${JSON.stringify(url)}, ${JSON.stringify(url.replace('127.0.0.1', 'localhost'))}]}, {timeoutMs: 300})
         .catch((e) => console.log(e.code))`,
      15_000,
    )
    expect(r.exited).toBe(true)
    expect(r.stdout.trim()).toBe('connection-timeout')
  })
})
