/**
 * A bounded worker pool for async work over a list.
 *
 * @example
 * ```ts
 * await pool(hosts, 4, async (host) => await deployHost(host)); // at most 4 at a time
 * ```
 * @module
 */

/** Runs `fn` over `items` with at most `limit` at a time, in order of the items. */
export async function pool<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await fn(items[next++]);
  });
  await Promise.all(workers);
}
