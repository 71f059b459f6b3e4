import {z} from 'zod'

/**
 * The JSON shape of a problem (problems.ts) in every command result. Apart from problems.ts, which has no zod:
 * parsing a subject (`contract subject`) reports problems without loading zod.
 */
export const ProblemSchema = z.object({path: z.string(), code: z.string(), message: z.string()})
