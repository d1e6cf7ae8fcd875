/**
 * Serialises this process's read-decide-commit steps on the cache, so they do not keep failing each
 * other's generation check under a burst of writes. Other replicas of the site still race through
 * the check (and retry); this only removes the needless contention inside one process.
 */
export class CacheLock {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(step: () => Promise<T>): Promise<T> {
    const result = this.tail.then(step, step);
    this.tail = result.catch(() => undefined);
    return result;
  }
}

/** A short random pause before retrying a step another replica beat, so they do not collide in step. */
export function backoff(attempt: number): Promise<void> {
  const ms = Math.min(50, 2 ** attempt) * Math.random();
  return new Promise((resolve) => setTimeout(resolve, ms));
}
