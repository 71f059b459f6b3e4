import {z} from 'zod'

import {ProblemSchema} from './problem-schema.js'
import {SUBJECT_FAMILIES} from './taxonomy.js'

/**
 * The JSON result of `dvctl contract subject` (taxonomy.ts's parseSubject). A module of its own so that
 * checking a subject does not load zod; tests parse the CLI's `--json` output with it.
 */
export const SubjectAnalysis = z.object({
  subject: z.string(),
  valid: z.boolean(),
  family: z.enum(SUBJECT_FAMILIES).nullable(),
  service: z.string().nullable(),
  action: z.string().optional(),
  entity: z.string().optional(),
  verb: z.string().optional(),
  operation: z.string().optional(),
  /** True when the subject holds `*` or `>` (only allowed with allowWildcards). */
  filter: z.boolean().optional(),
  problems: z.array(ProblemSchema),
  warnings: z.array(ProblemSchema),
})
export type SubjectAnalysis = z.infer<typeof SubjectAnalysis>
