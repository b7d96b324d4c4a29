/**
 * Small helpers of the 32-bit, non-cryptographic hashes of batou's caches (disk_cache.ts, content_memo.ts).
 *
 * @example
 * ```ts
 * import { fmix32, hex8 } from "./hash32.ts";
 * hex8(fmix32(Math.imul(0x811c9dc5 ^ 97, 16777619))); // 8 hex digits
 * ```
 * @module
 */

/** MurmurHash3's finalizer: every input bit affects every output bit. */
export function fmix32(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** `n` (an unsigned 32-bit number) as 8 hex digits. */
export function hex8(n: number): string {
  return n.toString(16).padStart(8, "0");
}
