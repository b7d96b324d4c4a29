/**
 * Pruning of the full-diff files a {@linkcode File} writes to `<workdir>/.batou-diffs` on the target: of the diffs
 * of each file name only the newest {@linkcode DIFF_FILES_KEPT} are kept, so that the folder stops growing however
 * often a deployment changes files.
 *
 * Diff files are named `<UTC timestamp>[-<n>]-<file name>.diff`; the timestamp (`20261202T141800.123Z`) sorts in
 * time order. The folder is listed once per process and diffDir; later writes only update that listing.
 *
 * @module
 */
import { join } from "../core/runtime/path.ts";

/** How many diff files are kept per file name (the newest ones). */
export const DIFF_FILES_KEPT = 5;

const DIFF_NAME = /^(\d{8}T\d{6}(?:\.\d+)?Z)(?:-(\d+))?-(.+)\.diff$/;

/** Known diff files per diffDir: file name -> entry names, oldest first. */
const listings = new Map<string, Map<string, string[]>>();

function sortKey(entry: string): [string, number] {
  const m = DIFF_NAME.exec(entry);
  return m ? [m[1], Number(m[2] ?? 1)] : ["", 0];
}

function byAge(a: string, b: string): number {
  const [sa, na] = sortKey(a), [sb, nb] = sortKey(b);
  return sa < sb ? -1 : sa > sb ? 1 : na - nb;
}

async function listing(diffDir: string): Promise<Map<string, string[]>> {
  let byName = listings.get(diffDir);
  if (byName) return byName;
  byName = new Map();
  for await (const e of Deno.readDir(diffDir)) {
    const m = e.isFile ? DIFF_NAME.exec(e.name) : null;
    if (!m) continue;
    const list = byName.get(m[3]) ?? [];
    list.push(e.name);
    byName.set(m[3], list);
  }
  for (const list of byName.values()) list.sort(byAge);
  listings.set(diffDir, byName);
  return byName;
}

/**
 * Records the new diff file `entry` (a name inside `diffDir`, written just now) and removes the oldest diff files
 * of the same file name beyond `keep`. Files that are gone already are skipped.
 */
export async function pruneDiffFiles(diffDir: string, entry: string, keep: number = DIFF_FILES_KEPT): Promise<void> {
  const m = DIFF_NAME.exec(entry);
  if (!m) return;
  const byName = await listing(diffDir);
  const list = byName.get(m[3]) ?? [];
  if (!list.includes(entry)) list.push(entry);
  list.sort(byAge);
  byName.set(m[3], list);
  while (list.length > keep) {
    const old = list.shift()!;
    try {
      await Deno.remove(join(diffDir, old));
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
  }
}
