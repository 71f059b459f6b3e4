import {existsSync, readFileSync, writeFileSync} from 'node:fs'
import {createRequire} from 'node:module'
import {dirname} from 'node:path'
import {fileURLToPath} from 'node:url'
import vm from 'node:vm'

/** The file name of oclif's CommonJS bundle beside this module's chunk, set by scripts/build.mjs. */
declare const DVCTL_OCLIF_BUNDLE: string

/**
 * oclif, loaded with a V8 code cache (bench/README.md, start-up). Node 20 keeps no compiled code between runs of
 * an ES module, and compiling oclif's functions was about half of what `dvctl --help` spends beyond `node -e 0`.
 * So the bundle (scripts/build.mjs) holds oclif as one CommonJS file, compiled here as a script with the code V8
 * cached from the build's own runs: every module of the bundle that imports @oclif/core gets this one instance.
 *
 * The cache is named after the content hash of the file it was made from, so it never meets another build's
 * oclif. V8 rejects it under another Node version or other V8 flags; oclif is then compiled as usual, only slower.
 */
function load(): {core: typeof import('@oclif/core'); parserErrors: Record<string, unknown>} {
  const file = fileURLToPath(new URL(DVCTL_OCLIF_BUNDLE, import.meta.url))
  const cacheFile = `${file}.v8-cache`
  // ASCII (scripts/build.mjs): read as Latin-1, the same text without decoding UTF-8.
  const source = readFileSync(file, 'latin1')
  const cachedData = existsSync(cacheFile) ? readFileSync(cacheFile) : undefined
  const script = new vm.Script(
    `(function (exports, require, module, __filename, __dirname, __dvctlImport) {${source}\n})`,
    {filename: file, cachedData},
  )
  const writing = process.env.DVCTL_WRITE_CODE_CACHE === '1'
  // The build's second and third runs read what the first wrote: a cache V8 turns down there fails the build.
  if (writing && cachedData && script.cachedDataRejected) throw new Error(`V8 rejected the code cache ${cacheFile}`)
  const module = {exports: {}}
  // oclif's module loader imports the help class, hooks and commands modules with this (scripts/build.mjs).
  const importModule = (specifier: string) => import(specifier)
  script.runInThisContext()(module.exports, createRequire(file), module, file, dirname(file), importModule)
  // The build's runs of dvctl (scripts/build.mjs) write the cache, with every function they compiled.
  if (writing) process.once('exit', () => writeFileSync(cacheFile, script.createCachedData()))
  return module.exports as ReturnType<typeof load>
}

export const oclif = load()
