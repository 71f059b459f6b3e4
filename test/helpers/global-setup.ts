import {spawnSync} from 'node:child_process'
import {rm} from 'node:fs/promises'

/**
 * Runs once before the suite: says which nats-server the tests start (vitest.config.ts puts
 * DV_TEST_NATS_SERVER first on PATH), so a CI log shows the version it passed on.
 */
export default function setup(): () => Promise<void> {
  const found = spawnSync('nats-server', ['--version'], {encoding: 'utf8'})
  const version = found.error ? `not found on PATH (${found.error.message})` : (found.stdout || found.stderr).trim()
  const from = process.env.DV_TEST_NATS_SERVER ? `DV_TEST_NATS_SERVER=${process.env.DV_TEST_NATS_SERVER}` : 'PATH'
  console.log(`dvctl tests: ${version} (from ${from})`)
  return async () => {
    const dir = process.env.DV_TEST_NATS_BIN_DIR
    if (dir) await rm(dir, {recursive: true, force: true})
  }
}
