/**
 * Whether a message's payload contains a byte string (a correlation id, StreamSpec.needle), asked of every
 * message of a scan. The client hands out payloads as views into the buffer each socket read filled, many
 * messages to a buffer, in order; so the buffer is searched once from the first message on, and each message
 * only compares its range with the next occurrence found, instead of one search (and its call) per message.
 * A message that does contain the bytes is always found: only occurrences entirely inside its range count,
 * and a message whose buffer or offset does not follow the one before starts a new search. What a search once
 * read of a buffer is trusted for later messages in it: the client never writes into a buffer it has handed
 * out messages from (each socket read is a buffer of its own; a message split across reads is copied out).
 */
export class NeedleFilter {
  private readonly needle: Buffer
  /** The buffer searched last, a Buffer over all of it, and the first occurrence at or after `from` (-1: none). */
  private buffer: ArrayBufferLike | undefined
  private whole: Buffer | undefined
  private from = 0
  private next = -1

  constructor(needle: Uint8Array) {
    this.needle = Buffer.from(needle)
  }

  has(data: Uint8Array): boolean {
    const start = data.byteOffset
    const end = start + data.byteLength
    if (this.needle.length === 0) return true
    if (data.byteLength < this.needle.length) return false
    if (data.buffer !== this.buffer || start < this.from) {
      this.buffer = data.buffer
      this.whole = Buffer.from(data.buffer)
      this.from = start
      this.next = this.whole.indexOf(this.needle, start)
    } else if (this.next !== -1 && this.next < start) {
      // The occurrence found belongs to an earlier message: the next one from here on.
      this.from = start
      this.next = this.whole!.indexOf(this.needle, start)
    }
    // The first occurrence at or after the start: inside the message, or none is (any later one ends later).
    return this.next !== -1 && this.next + this.needle.length <= end
  }
}
