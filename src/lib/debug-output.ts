import {redactUrls} from './config/url.js'

/**
 * Debug output is written by libraries, not by dvctl: oclif's `debug` logs (DEBUG=*) print the argv,
 * and Node's NODE_DEBUG=net,tls logs print hosts. A `--server nats://user:pass@host` would show there as
 * typed, so everything written to stderr while debugging passes through the one URL redaction.
 * Called by bin/run.js before oclif loads, only when DEBUG or NODE_DEBUG is set.
 */
export function redactDebugOutput(stream: NodeJS.WriteStream = process.stderr): void {
  const write = stream.write.bind(stream) as (chunk: unknown, ...rest: unknown[]) => boolean
  stream.write = ((chunk: unknown, ...rest: unknown[]) => {
    const text = typeof chunk === 'string' ? chunk : Buffer.isBuffer(chunk) ? chunk.toString('utf8') : undefined
    const redacted = text === undefined ? text : redactUrls(text)
    return write(redacted !== text ? redacted : chunk, ...rest)
  }) as typeof stream.write
}
