// The one exit-code table (what each code means: docs/operations.md). Everything that ends a command
// imports it from here.
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
