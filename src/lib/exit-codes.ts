// The one exit-code table (DESIGN.md section 8). Everything that ends a command imports it from here.
export const ExitCode = {
  ok: 0,
  bug: 1,
  usage: 2,
  cancelled: 3,
  unavailable: 4,
  notFound: 5,
  refused: 6,
  workFailed: 8,
  timeout: 9,
  drift: 10,
  partial: 68,
  interrupted: 130,
} as const

export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode]

export const exitCodeMeanings: Record<ExitCodeValue, string> = {
  0: 'success',
  1: 'unexpected error (a bug)',
  2: 'usage or validation error: bad flags, invalid subject, envelope, payload or layout',
  3: 'cancelled at a prompt',
  4: 'connection, authentication or JetStream unavailable',
  5: 'not found (stream, consumer, dead letter, correlation with no messages)',
  6: 'refused: confirmation needed and not given, or a change needing --allow-recreate/--force',
  8: 'watched work failed or was cancelled',
  9: 'timed out waiting',
  10: 'layout plan --fail-on-drift found differences',
  68: 'partial success (some items failed; the JSON lists which)',
  130: 'interrupted',
}
