/** An unbounded push queue read as an async iterator: many producers (sites, streams), one reader. */
export class EventQueue<T> implements AsyncIterable<T> {
  private readonly items: T[] = []
  private waiting: ((r: IteratorResult<T>) => void) | undefined
  private ended = false

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

  end(): void {
    this.ended = true
    if (this.waiting) {
      const resolve = this.waiting
      this.waiting = undefined
      resolve({value: undefined, done: true})
    }
  }

  [Symbol.asyncIterator](): AsyncIterator<T> {
    return {
      next: () => {
        if (this.items.length) return Promise.resolve({value: this.items.shift()!, done: false})
        if (this.ended) return Promise.resolve({value: undefined, done: true})
        return new Promise((resolve) => (this.waiting = resolve))
      },
    }
  }
}
