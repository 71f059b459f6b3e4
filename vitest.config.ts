import {accessSync, constants, mkdtempSync, statSync, symlinkSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {delimiter, join, resolve} from 'node:path'

import {defineConfig} from 'vitest/config'

/**
 * The nats-server every test runs: DV_TEST_NATS_SERVER (a path to a binary) when set, else `nats-server` on
 * PATH. Fixtures, sandboxes and the CLI children the tests spawn all look `nats-server` up on PATH, so the
 * chosen binary is linked as `nats-server` into a fresh directory put first on PATH, for this process and so
 * for the test workers and every process they start. test/helpers/global-setup.ts prints the version and
 * removes the directory afterwards.
 */
function natsServerPath(): string | undefined {
  const wanted = process.env.DV_TEST_NATS_SERVER
  if (!wanted) return undefined
  const binary = resolve(wanted)
  try {
    accessSync(binary, constants.X_OK)
    if (!statSync(binary).isFile()) throw new Error('not a file')
  } catch {
    throw new Error(
      `DV_TEST_NATS_SERVER=${wanted} is not an executable file; install one with scripts/install-nats-server.sh VERSION, or unset it to use nats-server on PATH`,
    )
  }
  const dir = mkdtempSync(join(tmpdir(), 'dvctl-test-nats-'))
  symlinkSync(binary, join(dir, 'nats-server'))
  process.env.DV_TEST_NATS_BIN_DIR = dir
  process.env.PATH = [dir, process.env.PATH].filter(Boolean).join(delimiter)
  return process.env.PATH
}

export default defineConfig(() => {
  const path = natsServerPath()
  return {
    test: {
      include: ['test/**/*.test.ts'],
      globalSetup: ['test/helpers/global-setup.ts'],
      ...(path ? {env: {PATH: path}} : {}),
      // Integration files each start their own nats-server; two cores, so keep the pool small.
      maxWorkers: 2,
      testTimeout: 30_000,
      hookTimeout: 60_000,
    },
  }
})
