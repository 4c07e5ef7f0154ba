/**
 * Work that must not overlap per key (a run's artifact writes, a live scorer's batches): each call
 * for a key starts when the previous one for that key settled, in call order. A failure goes to its
 * own caller and does not stop the work queued after it. A key is forgotten once its queue is empty.
 */
export class KeyedSerial {
  private readonly tails = new Map<string, Promise<void>>();

  run<T>(key: string, work: () => Promise<T>): Promise<T> {
    const next = (this.tails.get(key) ?? Promise.resolve()).then(() => work());
    const tail = next.then(
      () => undefined,
      () => undefined,
    );
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return next;
  }

  /** Let the next call for `key` start at once, whatever is still running for it. */
  forget(key: string): void {
    this.tails.delete(key);
  }

  /** Keys with work queued or running. */
  get size(): number {
    return this.tails.size;
  }
}
