import {describe, expect, it} from 'vitest'

import {hasUrlCredentials, redactUrls, splitUrlCredentials, stripUrlCredentials} from '../../../src/lib/config/url.js'

describe('URL credentials', () => {
  it('redacts a password, keeping the user', () => {
    expect(redactUrls('nats://bob:s3cret@host:4222')).toBe('nats://bob:***@host:4222')
    expect(redactUrls('tls://bob:@host')).toBe('tls://bob:***@host')
  })

  it('redacts a token whole', () => {
    expect(redactUrls('nats://tok3n@host')).toBe('nats://***@host')
  })

  it('redacts every URL in a text, in lists, quotes, JSON and argv dumps', () => {
    expect(redactUrls('Site x (nats://a:b@h1,nats://c:d@h2): refused')).toBe(
      'Site x (nats://a:***@h1,nats://c:***@h2): refused',
    )
    expect(redactUrls(`[ '--server', 'nats://bob:s3cret@127.0.0.1:1' ]`)).toBe(
      `[ '--server', 'nats://bob:***@127.0.0.1:1' ]`,
    )
    expect(redactUrls(JSON.stringify({url: 'nats://t@h:1'}))).toBe('{"url":"nats://***@h:1"}')
    expect(redactUrls('nats://h1:4222,nats://c:d@h2')).toBe('nats://h1:4222,nats://c:***@h2')
  })

  it('covers a password holding an unencoded @ whole', () => {
    expect(redactUrls('nats://bob:p@ss@host')).toBe('nats://bob:***@host')
  })

  it('leaves URLs without credentials and other text alone', () => {
    for (const text of ['nats://host:4222', 'nats://@host', 'mail bob@example.org', 'nats://h/x@y', ''])
      expect(redactUrls(text)).toBe(text)
    expect(hasUrlCredentials('nats://host:4222')).toBe(false)
    expect(hasUrlCredentials('nats://t@host:4222')).toBe(true)
  })

  it('splits credentials from the URL to dial, percent-decoded', () => {
    expect(splitUrlCredentials('nats://bob:p%40ss@h:4222')).toEqual({
      server: 'nats://h:4222',
      credentials: {user: 'bob', pass: 'p@ss'},
    })
    expect(splitUrlCredentials('nats://bob:p@ss@h')).toEqual({
      server: 'nats://h',
      credentials: {user: 'bob', pass: 'p@ss'},
    })
    expect(splitUrlCredentials('nats://tok@h')).toEqual({server: 'nats://h', credentials: {token: 'tok'}})
    expect(splitUrlCredentials('nats://h:4222')).toEqual({server: 'nats://h:4222'})
    expect(stripUrlCredentials('nats://a:b@h1,nats://t@h2')).toBe('nats://h1,nats://h2')
    expect(splitUrlCredentials('nats://a:100%@h')).toEqual({server: 'nats://h', credentials: {user: 'a', pass: '100%'}})
  })
})
