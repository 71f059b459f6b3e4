#!/usr/bin/env node
// chalk reads FORCE_COLOR when it is first imported and ignores NO_COLOR, so the colour decision
// (DESIGN.md section 8) is made here, before any command module loads.
const argv = process.argv.slice(2)
if (
  argv.includes('--json') ||
  argv.includes('--no-color') ||
  process.env.NO_COLOR !== undefined ||
  process.env.TERM === 'dumb' ||
  !process.stdout.isTTY
) {
  process.env.FORCE_COLOR = '0'
}

// Library debug output (oclif prints the argv) would show a URL's password as typed: redact it.
if (process.env.DEBUG || process.env.NODE_DEBUG) {
  const {redactDebugOutput} = await import('../dist/lib/debug-output.js')
  redactDebugOutput()
}

// `dvctl --version` without loading oclif (about 200 ms of module loading, DESIGN.md section 10: within
// 2.5x of `node -e 0`); the same line oclif prints.
if (argv.length === 1 && argv[0] === '--version') {
  const {readFileSync} = await import('node:fs')
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'))
  process.stdout.write(
    `${pkg.oclif?.bin ?? pkg.name}/${pkg.version} ${process.platform}-${process.arch} node-${process.version}\n`,
  )
} else {
  // oclif checks Node's version against the `engines` of its own package.json, which the bundle does not have
  // (npm checks dvctl's own `engines` at install); skipping it spares loading semver at every start.
  process.env.OCLIF_DISABLE_ENGINE_WARNING = '1'
  // oclif and every dependency come from the bundle in dist/ (scripts/build.mjs), not from node_modules.
  const {run} = await import('../dist/main.js')
  await run(import.meta.url)
}
