/**
 * Waiting without blocking.
 *
 * ```ts
 * import { sleep } from "./sleep.ts";
 * await sleep(100);
 * ```
 *
 * @module
 */

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
