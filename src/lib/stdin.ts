import {currentOutput} from './context.js'

/** Reads a whole stream (the command's standard input by default) as bytes: for `-` arguments and piped payloads. */
export async function readAll(stream: NodeJS.ReadableStream = currentOutput().stdin): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const chunk of stream) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer))
  return Buffer.concat(chunks)
}
