/**
 * Credentials written into a server URL, read as nats.go and the `nats` CLI read them:
 * `nats://user:pass@host` is a user and password, `nats://token@host` is a token.
 */
export interface UrlCredentials {
  user?: string
  pass?: string
  token?: string
}

/**
 * The userinfo of every URL in a text: the scheme, then everything up to the last `@` before the
 * authority ends (`/`, `?`, `#`, whitespace or a quote), so a password holding an unencoded `@` is
 * covered whole. In a comma-separated list the next URL's `//` ends the authority.
 */
const USERINFO = /([a-z][a-z0-9+.-]*:\/\/)([^\s/?#'"`<>]*)@/gi

/**
 * The one redaction of URL credentials (docs/architecture.md, JSON results): `nats://bob:s3cret@host` becomes
 * `nats://bob:***@host` and `nats://tok@host` becomes `nats://***@host`, wherever they occur in `text`.
 * Used for every URL that is shown or stored in a result: errors, `--json`, debug output, site listings.
 */
export function redactUrls(text: string): string {
  return text.replace(USERINFO, (whole, scheme: string, userinfo: string) => {
    if (userinfo === '') return whole
    const colon = userinfo.indexOf(':')
    return colon === -1 ? `${scheme}***@` : `${scheme}${userinfo.slice(0, colon)}:***@`
  })
}

/** Every URL in `text` without its userinfo: `nats://bob:s3cret@host` becomes `nats://host`. */
export function stripUrlCredentials(text: string): string {
  return text.replace(USERINFO, (_whole, scheme: string) => scheme)
}

/** True when a URL carries a user, password or token. */
export function hasUrlCredentials(url: string): boolean {
  return redactUrls(url) !== url
}

/**
 * Splits a server URL into the URL without its userinfo (what the client dials and may print) and the
 * credentials it carried, percent-decoded.
 */
export function splitUrlCredentials(url: string): {server: string; credentials?: UrlCredentials} {
  const match = /^([a-z][a-z0-9+.-]*:\/\/)([^/?#]*)@/i.exec(url)
  if (!match || match[2] === '') return {server: url}
  const server = match[1] + url.slice(match[0].length)
  const userinfo = match[2]
  const colon = userinfo.indexOf(':')
  if (colon === -1) return {server, credentials: {token: decode(userinfo)}}
  return {server, credentials: {user: decode(userinfo.slice(0, colon)), pass: decode(userinfo.slice(colon + 1))}}
}

function decode(part: string): string {
  try {
    return decodeURIComponent(part)
  } catch {
    // A stray `%` is taken literally, as a password may well contain one.
    return part
  }
}
