/**
 * Reading fields of untrusted values (decoded messages, and in tests anything at all) without running code
 * they may carry: a property is read through its descriptor, so a getter is never called, and a value
 * that is not a plain object gives undefined rather than a throw.
 */

/** `value[key]` when value is an object with that own data property; undefined otherwise. Never throws. */
export function prop(value: unknown, key: string): unknown {
  if (value === null || typeof value !== 'object') return undefined
  try {
    const descriptor = Object.getOwnPropertyDescriptor(value, key)
    return descriptor && 'value' in descriptor ? descriptor.value : undefined
  } catch {
    // A proxy that throws on inspection.
    return undefined
  }
}

/** `prop` along a path: `path(envelope, 'data', 'error', 'code')`. */
export function path(value: unknown, ...keys: string[]): unknown {
  let v = value
  for (const key of keys) v = prop(v, key)
  return v
}
