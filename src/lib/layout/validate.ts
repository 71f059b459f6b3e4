import {z} from 'zod'

import {readLayoutFile} from './load.js'

/** `layout validate --json`. */
export const LayoutValidation = z.object({
  file: z.string(),
  valid: z.boolean(),
  layout: z.string().nullable(),
  problems: z.array(z.object({path: z.string(), message: z.string()})),
  streams: z.array(z.string()),
  consumers: z.number(),
  kv: z.array(z.string()),
  sites: z.array(z.string()),
})
export type LayoutValidation = z.infer<typeof LayoutValidation>

/** Checks a layout file without connecting anywhere: schema, durations, overlapping subjects. */
export async function validateLayoutFile(file: string): Promise<LayoutValidation> {
  const {layout, problems} = await readLayoutFile(file)
  return {
    file,
    valid: Boolean(layout),
    layout: layout?.layout ?? null,
    problems,
    streams: Object.keys(layout?.streams ?? {}),
    consumers: Object.values(layout?.streams ?? {}).reduce((n, s) => n + Object.keys(s.consumers ?? {}).length, 0),
    kv: Object.keys(layout?.kv ?? {}),
    sites: Object.keys(layout?.sites ?? {}),
  }
}
