/**
 * `p`, or a rejection with `${what} within ${ms} ms` once `ms` have passed. The timer is not cleared when `p` settles
 * first (a clearTimeout would need a handler on `p`: one more allocation on the tick lock's path); it is unref'd,
 * so it never holds the process open, and its late rejection loses the race unseen.
 */
export function withDeadline<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return Promise.race([
    p,
    new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`${what} within ${ms} ms`)), ms).unref()),
  ]);
}
