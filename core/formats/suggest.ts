/**
 * "Did you mean ...?" for names a user typed: the closest candidate by edit distance, when it is close enough to be
 * a typo (at most one edit in three characters, and at least one).
 *
 * ```ts
 * import { closestName } from "./suggest.ts";
 * closestName("prdo", ["prod", "staging"]); // "prod"
 * closestName("xyz", ["prod"]); // null
 * ```
 *
 * @module
 */

/** Levenshtein distance of `a` and `b` (insertions, deletions, substitutions; a swap of neighbours counts one). */
export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.length][b.length];
}

/** The candidate closest to `name` if it is a likely typo of it (case-insensitive), else null. */
export function closestName(name: string, candidates: Iterable<string>): string | null {
  let best: string | null = null, bestDistance = Infinity;
  const limit = Math.max(1, Math.floor(name.length / 3));
  for (const c of candidates) {
    const distance = editDistance(name.toLowerCase(), c.toLowerCase());
    if (distance <= limit && distance < bestDistance) [best, bestDistance] = [c, distance];
  }
  return best;
}
