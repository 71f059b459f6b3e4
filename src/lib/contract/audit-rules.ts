/**
 * The rules `contract audit` reports (audit.ts counts them). A module of its own, without the audit's NATS and
 * zod imports: the contract renderers list the rules, and --help of the contract commands loads them.
 */

/** The rules an audit reports, in the order of its table. */
export const AUDIT_RULES = [
  'subject',
  'envelope',
  'time',
  'correlation',
  'causation',
  'schema',
  'payload',
  'size',
] as const
export type AuditRule = (typeof AUDIT_RULES)[number]

/** What each rule means, for help texts and docs. */
export const AUDIT_RULE_HELP: Record<AuditRule, string> = {
  subject: 'the subject breaks the taxonomy',
  envelope: 'a required envelope field is missing or malformed (or the body is not a JSON object)',
  time: 'time is not RFC 3339 in UTC',
  correlation: 'correlation_id is missing or empty',
  causation: 'an event or task event without causation_id that does not open its own workflow',
  schema: 'no payload schema is registered for the type (unversioned), or not the version dataschema names',
  payload: 'the payload breaks its registered schema',
  size: 'oversize (over the smallest max_payload of the sites read) or binary data (not UTF-8, embedded base64)',
}
