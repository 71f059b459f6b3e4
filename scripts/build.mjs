#!/usr/bin/env node
// Builds dvctl into dist/ as one esbuild bundle (docs/architecture.md, "Build and start-up"): dvctl's code and
// every runtime dependency (oclif and its help and autocomplete plugins, the NATS client, zod, yaml, ...), ESM
// for Node 20, but for oclif and zod, each a CommonJS file loaded with a V8 code cache. Code splitting keeps what
// a command needs only when it runs (a dynamic import() in its run()) in chunks of their own, loaded by that
// command alone; start-up and --help load the entry and the shared chunk.
//
// Entry points, each at the path the rest of the repository names:
//   dist/main.js                      what bin/run.js starts (oclif's execute, the output guard)
//   dist/commands.js                  oclif's explicit command strategy (package.json oclif.commands): the
//                                     command classes under their ids, generated from src/commands/**, plus the
//                                     help and autocomplete commands of the two bundled oclif plugins; each
//                                     command is a chunk of its own, loaded when the command line names it
//   dist/help.js                      package.json oclif.helpClass (src/help.ts)
//   dist/hooks/command-not-found.js   package.json oclif.hooks
//   dist/lib/debug-output.js          loaded by bin/run.js under DEBUG/NODE_DEBUG
//   dist/lib/context.js, dist/lib/render/output.js, dist/cli/base-command.js and a few services: what tests
//                                     and bench scripts import from dist/ by path (test/helpers/run.ts, bench/*.mjs)
import {spawnSync} from 'node:child_process'
import {createHash} from 'node:crypto'
import {existsSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync} from 'node:fs'
import {createRequire} from 'node:module'
import {dirname, join, relative, sep} from 'node:path'
import {fileURLToPath} from 'node:url'

import {build} from 'esbuild'

const root = fileURLToPath(new URL('..', import.meta.url))
const require = createRequire(join(root, 'package.json'))
const COMMANDS_DIR = join(root, 'src', 'commands')

/** Files under a package's directory that its `exports` does not expose (oclif's parser errors, plugin commands). */
function packageFile(name, file) {
  let dir = dirname(require.resolve(name))
  while (!existsSync(join(dir, 'package.json'))) dir = dirname(dir)
  return join(dir, file)
}

/** The oclif plugins whose commands are bundled with dvctl's own, so an installed dvctl needs no node_modules. */
const PLUGIN_COMMANDS = {
  help: packageFile('@oclif/plugin-help', 'lib/commands/help.js'),
  autocomplete: packageFile('@oclif/plugin-autocomplete', 'lib/commands/autocomplete/index.js'),
  'autocomplete:create': packageFile('@oclif/plugin-autocomplete', 'lib/commands/autocomplete/create.js'),
  'autocomplete:script': packageFile('@oclif/plugin-autocomplete', 'lib/commands/autocomplete/script.js'),
}

function commandFiles(dir) {
  return readdirSync(dir)
    .sort()
    .flatMap((name) => {
      const path = join(dir, name)
      if (statSync(path).isDirectory()) return commandFiles(path)
      return name.endsWith('.ts') ? [path] : []
    })
}

/**
 * The explicit strategy's module: `export const COMMANDS = {'dlq:list': DlqList, ...}` (ids as oclif's pattern
 * strategy names them). Each command is a dynamic import, a chunk of its own: a start loads only the commands its
 * command line can name (src/cli/command-line.ts), oclif's manifest generator and in-process tests all of them.
 */
function commandsModule() {
  const entries = [
    ...commandFiles(COMMANDS_DIR).map((file) => [
      relative(COMMANDS_DIR, file).replace(/\.ts$/, '').split(sep).join(':'),
      file,
    ]),
    ...Object.entries(PLUGIN_COMMANDS),
  ]
  const loaders = entries.map(([id, file]) => `  ${JSON.stringify(id)}: () => import(${JSON.stringify(file)}),`)
  return `import {commandsToLoad} from ${JSON.stringify(join(root, 'src', 'cli', 'command-line.ts'))}
const LOADERS = {
${loaders.join('\n')}
}
export const COMMANDS = Object.fromEntries(
  await Promise.all(commandsToLoad(Object.keys(LOADERS)).map(async (id) => [id, (await LOADERS[id]()).default])),
)
`
}

/** Whether a resolved file is CommonJS (`.cjs`, or `.js` in a package without "type": "module"). */
function isCommonJs(file) {
  if (file.endsWith('.cjs')) return true
  if (!file.endsWith('.js')) return false
  let dir = dirname(file)
  while (!existsSync(join(dir, 'package.json'))) dir = dirname(dir)
  return JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).type !== 'module'
}

/** The names a CommonJS module's exports can be imported by (`export const {...} = m`): identifiers, no default. */
function namedExports(module) {
  return Object.keys(module).filter((n) => n !== 'default' && /^[A-Za-z_$][\w$]*$/.test(n))
}

/** `await import('yaml')` of a CommonJS package: Node gives the module's named exports, esbuild's split chunk
 * only `default`. Such imports go through a module that names every export of the package. */
function cjsNamedExports(b) {
  b.onResolve({filter: /^[^./]/}, async (args) => {
    if (args.kind !== 'dynamic-import' || args.path.startsWith('node:') || args.namespace === 'dvctl-cjs') return
    const resolved = await b.resolve(args.path, {kind: 'import-statement', resolveDir: args.resolveDir})
    if (resolved.errors.length || resolved.external || !isCommonJs(resolved.path)) return
    return {path: resolved.path, namespace: 'dvctl-cjs'}
  })
  b.onLoad({filter: /.*/, namespace: 'dvctl-cjs'}, (args) => {
    const names = namedExports(require(args.path))
    return {
      contents: `const m = require(${JSON.stringify(args.path)})\nexport const {${names.join(', ')}} = m\nexport default m\n`,
      resolveDir: dirname(args.path),
      loader: 'js',
    }
  })
}

/** What oclif's CommonJS bundle leaves out or rewrites (bench/README.md, start-up). */
const oclifTrimmed = {
  name: 'dvctl-oclif',
  setup(b) {
    // oclif loads plugins by glob patterns (minimatch) and finds commands by globbing a directory (tinyglobby);
    // dvctl has no plugins to load and names its commands explicitly, so neither runs. oclif checks Node's version
    // (semver) only when OCLIF_DISABLE_ENGINE_WARNING is unset, and bin/run.js sets it. Left out of the bundle,
    // they cost nothing at start-up; were oclif to call one, it says so instead of guessing.
    b.onResolve({filter: /^(minimatch|tinyglobby|semver)$/}, (args) =>
      /[\\/]@oclif[\\/]core[\\/]/.test(args.importer) ? {path: args.path, namespace: 'dvctl-unused'} : undefined,
    )
    b.onLoad({filter: /.*/, namespace: 'dvctl-unused'}, (args) => ({
      contents: `const unused = () => { throw new Error('${args.path} is not in the dvctl bundle') }
module.exports = {minimatch: unused, glob: unused, globSync: unused, satisfies: unused}
`,
      loader: 'js',
    }))
    // Spots in oclif and its dependencies that cost more at start-up than they do, rewritten as the bundle is
    // built; the build fails if a text changes, so an upgrade is looked at again:
    // - Config.load asks wsl-utils whether this is WSL; that module imports child_process, fs/promises and
    //   PowerShell helpers. Its `isWsl` is is-wsl's, which is asked directly.
    // - Plugin.load sorts the command ids with localeCompare, whose first call builds ICU's collator (about
    //   10 ms). Command ids are ASCII words joined by ':', which code-point order sorts the same way.
    // - Help text is wrapped by wrap-ansi 7, which measures every word with string-width 4 (strip ANSI codes,
    //   replace emoji with a huge regular expression, then count) and copies the result a character at a time
    //   looking for ANSI codes. Printable ASCII is as wide as it is long, and a text without ESC or CSI comes
    //   out of that copy unchanged: both return at once (test/integration/help.test.ts compares every --help
    //   with what oclif prints from node_modules).
    // - Three of oclif's modules require a built-in module at load that only a rare path uses: readline (a
    //   command argument read from stdin, a path the bundle turns off: see below), child_process (the Windows
    //   shell) and perf_hooks (OCLIF_PERFORMANCE timings). Each is required when that path first uses it.
    // - oclif reads its JSON files (package.json, oclif.manifest.json, the user's theme and plugins, most of
    //   them absent) with fs/promises' readFile: four trips to libuv's thread pool each (open, stat, read,
    //   close), at every start. readJson reads them synchronously instead, with the same result and the same
    //   rejection for a missing file; fs/promises is required only by the Flags.file and directory checks
    //   and by ts-path's TypeScript lookup, which the bundle never runs (settings.enableAutoTranspile).
    // One is not equivalent, on purpose: oclif reads a positional argument the command line leaves out from
    // stdin when stdin is not a terminal, taking whatever arrives within 10 ms (and, when stdin was empty,
    // waiting those 10 ms again each time a command parses). So `producer | dvctl dlq replay --yes` could
    // replay what the producer happened to print in time. dvctl takes arguments from its command line only:
    // readStdin answers null, as it does on a terminal, and a missing argument is a usage error; what reads
    // stdin says so (publish --data -, layout validate -, contract validate - or without a file) and reads it.
    // No dvctl flag sets allowStdin, oclif's other use of it. (test/integration/dlq.test.ts, "command line only")
    // And one the code cache needs: V8 forgets how a cached script imports ES modules (Node's
    // importModuleDynamically), so oclif's module loader calls the import() src/cli/oclif-loader.ts hands it.
    const patches = {
      '@oclif/core/lib/module-loader.js': [['await import(', 'await __dvctlImport(', 3]],
      'string-width/index.js': [
        [
          'string = stripAnsi(string);',
          'if (/^[ -~]*$/.test(string)) return string.length;\n\tstring = stripAnsi(string);',
        ],
      ],
      '@oclif/core/node_modules/wrap-ansi/index.js': [
        [
          "const pre = [...rows.join('\\n')];",
          "const joined = rows.join('\\n');\n\tif (!/[\\u001B\\u009B]/.test(joined)) return joined;\n\tconst pre = [...joined];",
        ],
      ],
      '@oclif/core/lib/parser/parse.js': [
        [
          'const node_readline_1 = require("node:readline");',
          'const node_readline_1 = {get createInterface() { return require("node:readline").createInterface }};',
        ],
        ['    if (stdin.isTTY)\n        return null;', '    return null;'],
      ],
      '@oclif/core/lib/util/os.js': [
        ["(await import('wsl-utils')).isWsl", "(await import('is-wsl')).default"],
        [
          'const node_child_process_1 = require("node:child_process");',
          'const node_child_process_1 = {get execSync() { return require("node:child_process").execSync }};',
        ],
      ],
      '@oclif/core/lib/performance.js': [
        [
          'const node_perf_hooks_1 = require("node:perf_hooks");',
          'const node_perf_hooks_1 = {get performance() { return require("node:perf_hooks").performance }, get PerformanceObserver() { return require("node:perf_hooks").PerformanceObserver }};',
        ],
      ],
      '@oclif/core/lib/config/plugin.js': [
        ['.sort((a, b) => a.id.localeCompare(b.id))', '.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))'],
      ],
      '@oclif/core/lib/util/fs.js': [
        [
          'const promises_1 = require("node:fs/promises");',
          'const promises_1 = {get stat() { return require("node:fs/promises").stat }};',
        ],
        ["await (0, promises_1.readFile)(path, 'utf8')", "(0, node_fs_1.readFileSync)(path, 'utf8')"],
      ],
      '@oclif/core/lib/config/ts-path.js': [
        [
          'const promises_1 = require("node:fs/promises");',
          'const promises_1 = {get access() { return require("node:fs/promises").access }};',
        ],
      ],
    }
    const patched = new Map(
      Object.entries(patches).map(([file, edits]) => {
        const [, name, rest] = /^(@[^/]+\/[^/]+|[^/]+)\/(.*)$/.exec(file)
        return [packageFile(name, rest), {file, edits}]
      }),
    )
    b.onLoad({filter: /\.js$/}, (args) => {
      const patch = patched.get(args.path)
      if (!patch) return
      let contents = readFileSync(args.path, 'utf8')
      // [text, replacement, how many times the text occurs (1 unless given)]
      for (const [from, to, times = 1] of patch.edits) {
        if (contents.split(from).length - 1 !== times) {
          throw new Error(`${patch.file} no longer contains ${from} ${times} time(s): see scripts/build.mjs`)
        }
        contents = contents.replaceAll(from, to)
      }
      patched.delete(args.path)
      return {contents, loader: 'js'}
    })
    b.onEnd(() => {
      for (const {file} of patched.values())
        throw new Error(`${file} is no longer in oclif's bundle: see scripts/build.mjs`)
    })
  },
}

/**
 * zod's `z.locales` holds its error messages in some forty languages: half of the code of zod's bundle, compiled
 * by every command that loads zod. dvctl never chooses a locale and zod keeps English by default
 * (classic/schemas.cjs requires locales/en.cjs itself), so `z.locales` (and `z.core.locales`) hold English alone.
 */
const zodEnglishOnly = {
  name: 'dvctl-zod-english',
  setup(b) {
    let trimmed = 0
    b.onResolve({filter: /^\.\.\/locales\/index\.cjs$/}, (args) => {
      if (!/[\\/]zod[\\/]v4[\\/](classic[\\/]external|core[\\/]index)\.cjs$/.test(args.importer)) return
      trimmed++
      return {path: join(dirname(args.importer), '..', 'locales', 'en.cjs'), namespace: 'dvctl-zod-locales'}
    })
    b.onLoad({filter: /.*/, namespace: 'dvctl-zod-locales'}, (args) => ({
      contents: `exports.en = require(${JSON.stringify(args.path)}).default\n`,
      resolveDir: dirname(args.path),
      loader: 'js',
    }))
    b.onEnd(() => {
      if (trimmed !== 2)
        throw new Error(`zod's locales were found imported ${trimmed} times, not 2: see scripts/build.mjs`)
    })
  },
}

/**
 * In the ES module bundle, @oclif/core and its parser errors (src/cli/oclif-parser-errors.ts) are the one
 * instance src/cli/oclif-loader.ts loads from oclif's CommonJS bundle, so `instanceof` meets the classes oclif
 * throws and every command extends the same Command; zod is the one src/cli/zod-loader.ts loads from zod's.
 */
function sharedInstances() {
  const loader = (name) => join(root, 'src', 'cli', `${name}-loader.ts`)
  const shared = {
    core: {from: `import {oclif} from ${JSON.stringify(loader('oclif'))}\nconst m = oclif.core`, module: '@oclif/core'},
    parserErrors: {
      from: `import {oclif} from ${JSON.stringify(loader('oclif'))}\nconst m = oclif.parserErrors`,
      module: packageFile('@oclif/core', 'lib/parser/errors.js'),
    },
    zod: {from: `import {zod as m} from ${JSON.stringify(loader('zod'))}`, module: 'zod'},
  }
  return {
    name: 'dvctl-shared',
    setup(b) {
      b.onResolve({filter: /^@oclif\/core$/}, () => ({path: 'core', namespace: 'dvctl-shared'}))
      b.onResolve({filter: /\/oclif-parser-errors\.js$/}, () => ({path: 'parserErrors', namespace: 'dvctl-shared'}))
      b.onResolve({filter: /^zod$/}, () => ({path: 'zod', namespace: 'dvctl-shared'}))
      b.onLoad({filter: /.*/, namespace: 'dvctl-shared'}, (args) => ({
        contents: `${shared[args.path].from}
export const {${namedExports(require(shared[args.path].module)).join(', ')}} = m
export default m
`,
        resolveDir: root,
        loader: 'js',
      }))
    },
  }
}

const bundled = {
  name: 'dvctl-bundle',
  setup(b) {
    cjsNamedExports(b)
    b.onResolve({filter: /^dvctl:commands$/}, () => ({path: 'commands', namespace: 'dvctl'}))
    b.onLoad({filter: /.*/, namespace: 'dvctl'}, () => ({contents: commandsModule(), resolveDir: root, loader: 'js'}))
  },
}

/** Options both bundles share. */
const common = {
  absWorkingDir: root,
  bundle: true,
  platform: 'node',
  target: 'node20',
  // Class and function names stay as written in oclif's and zod's files: both read constructor names.
  keepNames: true,
  // oclif loads TypeScript (and ts-node or tsx) only to run a plugin from its sources; src/main.ts turns that
  // off (settings.enableAutoTranspile), so they are never bundled and never loaded.
  // ink connects to React's devtools only under DEV=true, when that package is installed beside it.
  external: ['typescript', 'ts-node', 'tsx', 'tsx/*', 'react-devtools-core'],
  legalComments: 'none',
  // Less source to read and compile at every start.
  minifyWhitespace: true,
  minifySyntax: true,
  logLevel: 'warning',
}

rmSync(join(root, 'dist'), {recursive: true, force: true})

/**
 * One CommonJS file for src/cli/code-cache.ts to compile with a V8 code cache: `contents` bundled, ASCII only, so
 * that it is read as Latin-1, a plain copy, not decoded as UTF-8 at every start (esbuild escapes what it can; what
 * it leaves, a character in a regular expression, becomes a \u escape, which means the same there, in a string or
 * in an identifier). Named `<name>-<content hash>.cjs`.
 */
async function cachedBundle(name, contents, plugins) {
  const out = await build({
    ...common,
    stdin: {contents, resolveDir: root, loader: 'js'},
    format: 'cjs',
    write: false,
    plugins,
  })
  const source = out.outputFiles[0].text.replace(
    /[\u0080-\uffff]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  )
  return {file: `${name}-${createHash('sha256').update(source).digest('hex').slice(0, 16)}.cjs`, source}
}

// 1. oclif and zod as CommonJS files of their own, for src/cli/oclif-loader.ts and zod-loader.ts to compile with a
// V8 code cache.
const oclifBundle = await cachedBundle(
  'oclif',
  `exports.core = require('@oclif/core')
exports.parserErrors = require(${JSON.stringify(packageFile('@oclif/core', 'lib/parser/errors.js'))})
`,
  [oclifTrimmed],
)
const zodBundle = await cachedBundle('zod', "module.exports = require('zod')", [zodEnglishOnly])

/**
 * `import process from 'node:process'` (chalk's supports-color, on every start): Node makes that module's ES
 * facade by reading every export of `process`, and reading `stdin` opens it (about 4 ms of a start). The
 * global is the same object; named imports become reads of it where they are used.
 */
const globalProcess = {
  name: 'dvctl-global-process',
  setup(b) {
    b.onResolve({filter: /^(node:)?process$/}, () => ({path: 'process', namespace: 'dvctl-process'}))
    b.onLoad({filter: /.*/, namespace: 'dvctl-process'}, () => ({contents: 'module.exports = process', loader: 'js'}))
  },
}

// The bundled CommonJS packages (the NATS client, yaml, ...) call require() for Node's own modules.
const REQUIRE_BANNER =
  "import {createRequire as __dvctlCreateRequire} from 'node:module'; const require = __dvctlCreateRequire(import.meta.url);"

// 2. dvctl and every other dependency as ES modules, split so that a command's own code loads with it alone.
const result = await build({
  ...common,
  entryPoints: {
    main: 'src/main.ts',
    commands: 'dvctl:commands',
    help: 'src/help.ts',
    'hooks/command-not-found': 'src/hooks/command-not-found.ts',
    'lib/debug-output': 'src/lib/debug-output.ts',
    // Modules that tests and bench scripts import from dist/ by path (each is a file of its own only because of them).
    ...Object.fromEntries(
      [
        'cli/base-command',
        'lib/context',
        'lib/render/output',
        'lib/contract/audit',
        'lib/contract/services',
        'lib/dlq/list',
        'lib/dlq/replay',
        'lib/nats/connection',
        'lib/sandbox/nats-server',
        'lib/workflow/list',
        'lib/workflow/read',
      ].map((path) => [path, `src/${path}.ts`]),
    ),
  },
  outdir: 'dist',
  splitting: true,
  format: 'esm',
  // Not here: keeping names costs a call (__name, defineProperty) each time a named closure is made, which in
  // per-message code was a few percent of a replay's time. Identifiers are not minified, so a name changes only
  // where two modules' top-level names collide; dvctl's errors set their names themselves.
  keepNames: false,
  chunkNames: 'chunks/[name]-[hash]',
  banner: {js: REQUIRE_BANNER},
  define: {
    DVCTL_OCLIF_BUNDLE: JSON.stringify(`./${oclifBundle.file}`),
    DVCTL_ZOD_BUNDLE: JSON.stringify(`./${zodBundle.file}`),
  },
  metafile: true,
  plugins: [bundled, sharedInstances(), globalProcess],
})
if (process.env.DVCTL_BUILD_META) writeFileSync(process.env.DVCTL_BUILD_META, JSON.stringify(result.metafile))

// The banner stays only in the files that call require(): in the others it would import node:module and make a
// require function at every start, for nothing (a command's start loads a dozen such chunks).
for (const out of Object.keys(result.metafile.outputs).filter((out) => out.endsWith('.js'))) {
  const text = readFileSync(join(root, out), 'utf8')
  if (!text.startsWith(REQUIRE_BANNER)) throw new Error(`${out} does not start with the require banner`)
  if (!/\brequire\b/.test(text.slice(REQUIRE_BANNER.length)))
    writeFileSync(join(root, out), text.slice(REQUIRE_BANNER.length))
  if (/\bfrom\s*["'](node:)?process["']/.test(text)) throw new Error(`${out} imports node:process (see globalProcess)`)
}

// Each CommonJS file goes beside the one chunk holding its loader, which finds it by its own URL.
for (const [name, bundle] of [
  ['oclif', oclifBundle],
  ['zod', zodBundle],
]) {
  const input = `src/cli/${name}-loader.ts`
  const loaders = Object.entries(result.metafile.outputs).filter(([, out]) => input in out.inputs)
  if (loaders.length !== 1) throw new Error(`${input} is in ${loaders.length} output files, not one`)
  bundle.path = join(root, dirname(loaders[0][0]), bundle.file)
  writeFileSync(bundle.path, bundle.source)
}

// Node finds whether a .js file is an ES module by walking up from it to the nearest package.json, for every file
// it loads (about 5 ms of a command's start, a dozen files each): one beside them ends the walk at once.
for (const dir of ['dist', 'dist/chunks']) writeFileSync(join(root, dir, 'package.json'), '{"type": "module"}\n')

// 3. The code caches: what these runs of dvctl compiled of oclif (start-up, help, parsing a command's flags) and of
// zod (the config file's schemas, which every command that picks a site builds), each run adding to the last one's.
// The last run reads both caches, so that a cache V8 turns down fails the build (code-cache.ts). No config file is
// read: DVCTL_CONFIG names one that does not exist.
for (const argv of [
  ['--help'],
  ['dlq', 'replay', '--help'],
  ['contract', 'subject', 'dv.maskin.cmd.provision'],
  ['site', 'list', '--json'],
  ['site', 'list', '--json'],
]) {
  const run = spawnSync(process.execPath, [join(root, 'bin', 'run.js'), ...argv], {
    env: {
      ...process.env,
      DVCTL_WRITE_CODE_CACHE: '1',
      NO_COLOR: '1',
      DVCTL_CONFIG: join(root, 'dist', 'no-such-config.yaml'),
    },
    stdio: ['ignore', 'ignore', 'pipe'],
    encoding: 'utf8',
  })
  if (run.status !== 0)
    throw new Error(`dvctl ${argv.join(' ')} exited ${run.status} while writing the code cache: ${run.stderr}`)
}
for (const {path} of [oclifBundle, zodBundle])
  if (!existsSync(`${path}.v8-cache`)) throw new Error(`no run of dvctl wrote the code cache of ${path}`)
