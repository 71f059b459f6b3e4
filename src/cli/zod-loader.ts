import {fileURLToPath} from 'node:url'

import {loadCached} from './code-cache.js'

/** The file name of zod's CommonJS bundle beside this module's chunk, set by scripts/build.mjs. */
declare const DVCTL_ZOD_BUNDLE: string

/**
 * zod, from its CommonJS bundle with a V8 code cache (code-cache.ts): every module of the bundle that imports
 * zod gets this one instance (scripts/build.mjs), loaded by the first of them a command loads.
 */
export const zod = loadCached<typeof import('zod')>(fileURLToPath(new URL(DVCTL_ZOD_BUNDLE, import.meta.url)))
