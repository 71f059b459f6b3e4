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

const {execute} = await import('@oclif/core')
await execute({dir: import.meta.url})
