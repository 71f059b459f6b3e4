#!/usr/bin/env node
// Builds dvctl into dist/ as one esbuild bundle (docs/architecture.md, "Build and start-up"): dvctl's code and
// every runtime dependency (oclif and its help and autocomplete plugins, the NATS client, zod, yaml, ...), ESM
// for Node 20. Code splitting keeps what a command needs only when it runs (a dynamic import() in its run())
// in chunks of their own, loaded by that command alone; start-up and --help load the entry and the shared chunk.
//
// Entry points, each at the path the rest of the repository names:
//   dist/main.js                      what bin/run.js starts (oclif's execute, the output guard)
//   dist/commands.js                  oclif's explicit command strategy (package.json oclif.commands): every
//                                     command class under its id, generated from src/commands/**, plus the help
//                                     and autocomplete commands of the two bundled oclif plugins
//   dist/help.js                      package.json oclif.helpClass (src/help.ts)
//   dist/hooks/command-not-found.js   package.json oclif.hooks
//   dist/lib/debug-output.js          loaded by bin/run.js under DEBUG/NODE_DEBUG
//   dist/lib/context.js, dist/lib/render/output.js, dist/cli/base-command.js and a few services: what tests
//                                     and bench scripts import from dist/ by path (test/helpers/run.ts, bench/*.mjs)
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

/** The explicit strategy's module: `export const COMMANDS = {'dlq:list': DlqList, ...}` (ids as oclif's pattern strategy names them). */
function commandsModule() {
  const entries = [
    ...commandFiles(COMMANDS_DIR).map((file) => [
      relative(COMMANDS_DIR, file).replace(/\.ts$/, '').split(sep).join(':'),
      file,
    ]),
    ...Object.entries(PLUGIN_COMMANDS),
  ]
  const imports = entries.map(([, file], i) => `import C${i} from ${JSON.stringify(file)}`)
  const map = entries.map(([id], i) => `  ${JSON.stringify(id)}: C${i},`)
  return `${imports.join('\n')}\nexport const COMMANDS = {\n${map.join('\n')}\n}\n`
}

/** Whether a resolved file is CommonJS (`.cjs`, or `.js` in a package without "type": "module"). */
function isCommonJs(file) {
  if (file.endsWith('.cjs')) return true
  if (!file.endsWith('.js')) return false
  let dir = dirname(file)
  while (!existsSync(join(dir, 'package.json'))) dir = dirname(dir)
  return JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).type !== 'module'
}

const bundled = {
  name: 'dvctl-bundle',
  setup(b) {
    // `await import('yaml')` of a CommonJS package: Node gives the module's named exports, esbuild's split
    // chunk only `default`. Such imports go through a module that names every export of the package.
    b.onResolve({filter: /^[^./]/}, async (args) => {
      if (args.kind !== 'dynamic-import' || args.path.startsWith('node:') || args.namespace === 'dvctl-cjs') return
      const resolved = await b.resolve(args.path, {kind: 'import-statement', resolveDir: args.resolveDir})
      if (resolved.errors.length || resolved.external || !isCommonJs(resolved.path)) return
      return {path: resolved.path, namespace: 'dvctl-cjs'}
    })
    b.onLoad({filter: /.*/, namespace: 'dvctl-cjs'}, (args) => {
      const names = Object.keys(require(args.path)).filter((n) => n !== 'default' && /^[A-Za-z_$][\w$]*$/.test(n))
      return {
        contents: `const m = require(${JSON.stringify(args.path)})\nexport const {${names.join(', ')}} = m\nexport default m\n`,
        resolveDir: dirname(args.path),
        loader: 'js',
      }
    })
    b.onResolve({filter: /^dvctl:commands$/}, () => ({path: 'commands', namespace: 'dvctl'}))
    b.onLoad({filter: /.*/, namespace: 'dvctl'}, () => ({contents: commandsModule(), resolveDir: root, loader: 'js'}))
    // oclif loads plugins by glob patterns (minimatch) and finds commands by globbing a directory (tinyglobby);
    // dvctl has no plugins to load and names its commands explicitly, so neither runs. Left out of the bundle,
    // they cost nothing at start-up; were oclif to call one, it says so instead of guessing.
    b.onResolve({filter: /^(minimatch|tinyglobby)$/}, (args) =>
      /[\\/]@oclif[\\/]core[\\/]/.test(args.importer) ? {path: args.path, namespace: 'dvctl-unused'} : undefined,
    )
    b.onLoad({filter: /.*/, namespace: 'dvctl-unused'}, (args) => ({
      contents: `const unused = () => { throw new Error('${args.path} is not in the dvctl bundle') }
export const minimatch = unused
export const glob = unused
export const globSync = unused
`,
      loader: 'js',
    }))
    // src/cli/oclif-parser-errors.ts finds oclif's parser errors next to @oclif/core in node_modules; in the
    // bundle they are the bundled module itself, so `instanceof` meets the classes the parser throws.
    b.onResolve({filter: /\/oclif-parser-errors\.js$/}, () => ({
      path: packageFile('@oclif/core', 'lib/parser/errors.js'),
    }))
  },
}

rmSync(join(root, 'dist'), {recursive: true, force: true})
const result = await build({
  absWorkingDir: root,
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
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  chunkNames: 'chunks/[name]-[hash]',
  // The bundled CommonJS packages (oclif, the NATS client) call require() for Node's own modules.
  banner: {
    js: "import {createRequire as __dvctlCreateRequire} from 'node:module'; const require = __dvctlCreateRequire(import.meta.url);",
  },
  // Class and function names stay as written: oclif and error messages show them.
  keepNames: true,
  // oclif loads TypeScript (and ts-node or tsx) only to run a plugin from its sources; src/main.ts turns that
  // off (settings.enableAutoTranspile), so they are never bundled and never loaded.
  // ink connects to React's devtools only under DEV=true, when that package is installed beside it.
  external: ['typescript', 'ts-node', 'tsx', 'tsx/*', 'react-devtools-core'],
  legalComments: 'none',
  metafile: true,
  logLevel: 'warning',
  plugins: [bundled],
})
if (process.env.DVCTL_BUILD_META) writeFileSync(process.env.DVCTL_BUILD_META, JSON.stringify(result.metafile))
