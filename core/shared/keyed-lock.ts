/**
 * Runs async work one at a time per key (e.g. per file), in call order; different keys run
 * concurrently. A failed run does not block the next one. Pure, so both sides of the wire use it.
 */
export function createKeyedLock() {
  const tails = new Map<string, Promise<unknown>>();
  return function exclusive<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const run = (tails.get(key) ?? Promise.resolve()).then(fn);
    const tail = run.catch(() => {});
    tails.set(key, tail);
    void tail.then(() => tails.get(key) === tail && tails.delete(key));
    return run;
  };
}
