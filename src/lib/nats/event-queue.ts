/**
 * A push queue read as an async iterator: many producers (sites, streams), one reader. `push` never
 * waits (notices); `put` waits while the queue holds `highWater` items, so producers of messages go no
 * faster than the reader (and the reader no faster than its output: memory stays bounded).
 */
export class EventQueue<T> implements AsyncIterable<T> {
  private readonly items: T[] = []
  private waiting: ((r: IteratorResult<T>) => void) | undefined
  private readonly room: Array<() => void> = []
  private ended = false

  constructor(private readonly highWater = 256) {}

  get done(): boolean {
    return this.ended
  }

  push(item: T): void {
    if (this.ended) return
    if (this.waiting) {
      const resolve = this.waiting
      this.waiting = undefined
      resolve({value: item, done: false})
    } else {
      this.items.push(item)
    }
  }

  /** Pushes, then resolves once the queue is below its high-water mark (or ended). */
  put(item: T): Promise<void> {
    this.push(item)
    if (this.items.length < this.highWater || this.ended) return Promise.resolve()
    return new Promise((resolve) => this.room.push(resolve))
  }

  /** No more items are taken; what is queued is still read. */
  end(): void {
    this.ended = true
    this.release()
    if (this.waiting) {
      const resolve = this.waiting
      this.waiting = undefined
      resolve({value: undefined, done: true})
    }
  }

  private release(): void {
    for (const resolve of this.room.splice(0)) resolve()
  }

  [Symbol.asyncIterator](): AsyncIterator<T> {
    return {
      next: () => {
        if (this.items.length) {
          const value = this.items.shift()!
          if (this.room.length && this.items.length < this.highWater) this.release()
          return Promise.resolve({value, done: false})
        }
        if (this.ended) return Promise.resolve({value: undefined, done: true})
        return new Promise((resolve) => (this.waiting = resolve))
      },
    }
  }
}
