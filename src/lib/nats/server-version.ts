/**
 * Feature detection by server version: the code runs on nats-server 2.9.10 and newer, using what a newer
 * server offers (term reasons, in-place edits) and degrading without it.
 */

/** `version` >= `min`, comparing major.minor.patch numerically; an unparsable or absent version counts as old. */
export function serverAtLeast(version: string | undefined, min: string): boolean {
  const parse = (v: string) => (v.match(/^(\d+)\.(\d+)\.(\d+)/) ?? []).slice(1).map(Number)
  const have = parse(version ?? '')
  const want = parse(min)
  if (have.length !== 3) return false
  for (let i = 0; i < 3; i++) if (have[i] !== want[i]) return have[i] > want[i]
  return true
}

/** `msg.term(reason)` is understood from nats-server 2.10.4; older servers get a plain term. */
export const supportsTermReason = (version: string | undefined): boolean => serverAtLeast(version, '2.10.4')

/** Stream and consumer `metadata` exist from nats-server 2.10.0; 2.9 rejects the field. */
export const supportsMetadata = (version: string | undefined): boolean => serverAtLeast(version, '2.10.0')

/** Per-message TTL (the `Nats-TTL` header, stream `allow_msg_ttl`) exists from nats-server 2.11.0. */
export const supportsMessageTtl = (version: string | undefined): boolean => serverAtLeast(version, '2.11.0')
