import {fileURLToPath} from 'node:url'

import {loadCached} from './code-cache.js'

/** The file name of oclif's CommonJS bundle beside this module's chunk, set by scripts/build.mjs. */
declare const DVCTL_OCLIF_BUNDLE: string

/**
 * oclif, from its CommonJS bundle with a V8 code cache (code-cache.ts): every module of the bundle that imports
 * @oclif/core gets this one instance (scripts/build.mjs).
 */
export const oclif = loadCached<{core: typeof import('@oclif/core'); parserErrors: Record<string, unknown>}>(
  fileURLToPath(new URL(DVCTL_OCLIF_BUNDLE, import.meta.url)),
)
