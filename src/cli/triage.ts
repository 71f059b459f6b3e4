import type {DlqTriageResult} from '../lib/dlq/model.js'
import {ExitCode, type ExitCodeValue} from '../lib/exit-codes.js'

/**
 * The exit code of `dlq hold`, `dlq release` and `dlq note` (docs/operations.md, "Triage"): 0 when each
 * selected dead letter was changed; 68 when a write failed; for named references of which none was
 * changed, 5 when none exists, else 6 (refused: held by another operator, not held, or another operator's
 * write changed it in a way that matters).
 */
export function triageExitCode(result: DlqTriageResult, notFound: string[], named: boolean): ExitCodeValue {
  if (result.failed.length) return ExitCode.partial
  if (result.changed.length > 0 || !named) return result.skipped.length && named ? ExitCode.refused : ExitCode.ok
  return notFound.length === result.skipped.length ? ExitCode.notFound : ExitCode.refused
}
