#!/usr/bin/env node
// oclif lists commands in directory order, which differs between file systems and between a fresh and an
// incremental build; sorting them makes the committed manifest comparable byte for byte in CI.
import {readFileSync, writeFileSync} from 'node:fs'

const file = new URL('../oclif.manifest.json', import.meta.url)
const manifest = JSON.parse(readFileSync(file, 'utf8'))
manifest.commands = Object.fromEntries(Object.entries(manifest.commands).sort(([a], [b]) => a.localeCompare(b)))
writeFileSync(file, JSON.stringify(manifest, null, 2) + '\n')
