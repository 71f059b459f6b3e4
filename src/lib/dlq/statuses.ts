/**
 * A dead letter's status (dlq/model.ts's DeadLetterStatus is built from this list). Its own module, without
 * zod, because `--status` lists the values in every dlq command's flags, which --help loads.
 */
export const DEAD_LETTER_STATUSES = ['pending', 'replayed', 'replay_failed', 'discarded', 'missing', 'invalid'] as const
