#!/usr/bin/env node
// Development entry: runs the compiled commands like bin/run.js but with oclif's development flag,
// which shows full stacks for bugs. Run `npm run build` first: the commands come from the bundle in dist/.
const argv = process.argv.slice(2)
if (
  argv.includes('--json') ||
  argv.includes('--no-color') ||
  process.env.NO_COLOR !== undefined ||
  process.env.TERM === 'dumb'
) {
  process.env.FORCE_COLOR = '0'
}
process.env.DEBUG ??= 'dvctl*'

// Library debug output (oclif prints the argv) would show a URL's password as typed: redact it.
if (process.env.DEBUG || process.env.NODE_DEBUG) {
  const {redactDebugOutput} = await import('../dist/lib/debug-output.js')
  redactDebugOutput()
}

const {execute} = await import('@oclif/core')
await execute({development: true, dir: import.meta.url})
