import {existsSync, readFileSync, writeFileSync} from 'node:fs'
import {createRequire} from 'node:module'
import {dirname} from 'node:path'
import vm from 'node:vm'

/**
 * Runs one of the bundle's CommonJS files (oclif, zod: scripts/build.mjs) with a V8 code cache (bench/README.md,
 * start-up), and returns its exports. Node 20 keeps no compiled code between runs of an ES module, and compiling
 * oclif's and zod's functions was most of what a command spends before its own work. So each is one CommonJS
 * file, compiled here as a script with the code V8 cached from the build's own runs of dvctl.
 *
 * The file's name carries the content hash of its text, and its cache is named after it, so a cache never meets
 * another build's file. V8 rejects a cache under another Node version or other V8 flags; the file is then
 * compiled as usual, only slower.
 */
export function loadCached<T>(file: string): T {
  const cacheFile = `${file}.v8-cache`
  // ASCII (scripts/build.mjs): read as Latin-1, the same text without decoding UTF-8.
  const source = readFileSync(file, 'latin1')
  const cachedData = existsSync(cacheFile) ? readFileSync(cacheFile) : undefined
  const script = new vm.Script(
    `(function (exports, require, module, __filename, __dirname, __dvctlImport) {${source}\n})`,
    {filename: file, cachedData},
  )
  const writing = process.env.DVCTL_WRITE_CODE_CACHE === '1'
  // The build's later runs read what the first wrote: a cache V8 turns down there fails the build.
  if (writing && cachedData && script.cachedDataRejected) throw new Error(`V8 rejected the code cache ${cacheFile}`)
  const module = {exports: {}}
  // V8 forgets how a cached script imports ES modules (Node's importModuleDynamically): oclif's module loader
  // imports the help class, hooks and commands modules with this one (scripts/build.mjs).
  const importModule = (specifier: string) => import(specifier)
  script.runInThisContext()(module.exports, createRequire(file), module, file, dirname(file), importModule)
  // The build's runs of dvctl (scripts/build.mjs) write the cache, with every function they compiled.
  if (writing) process.once('exit', () => writeFileSync(cacheFile, script.createCachedData()))
  return module.exports as T
}
