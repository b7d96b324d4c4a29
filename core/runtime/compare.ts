/**
 * String order for sorting names (hosts, roots, components, files): by UTF-16 code units, as Python's `sorted()`
 * orders batou's names. Not `localeCompare`: its first call loads ICU's collator (~6 ms of CPU in every process),
 * and its order depends on the machine's locale.
 *
 * @example
 * ```ts
 * import { compareStrings } from "./compare.ts";
 * ["b", "B", "a"].sort(compareStrings); // ["B", "a", "b"]
 * ```
 * @module
 */

/** Negative, zero or positive as `a` sorts before, with or after `b` (by code units). */
export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
