/** Pruning of `.batou-diffs` (issue 16: the folder grew to thousands of files). */
import { assertEquals } from "./support/assert.ts";
import { join } from "node:path";
import { DIFF_FILES_KEPT, pruneDiffFiles } from "../lib/diff_files.ts";

async function names(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) out.push(e.name);
  return out.sort();
}

Deno.test("pruneDiffFiles keeps the newest diffs per file name and nothing else changes", async () => {
  const dir = await Deno.makeTempDir({ prefix: "bt16-diffs-" });
  try {
    const conf = (day: number, n = "") => `202601${String(day).padStart(2, "0")}T120000.000Z${n}-app.conf.diff`;
    // Left by earlier deployments (other processes): 8 diffs of app.conf, two in the same millisecond.
    const old = [1, 2, 3, 4, 5, 6, 7].map((d) => conf(d)).concat([conf(7, "-2")]);
    const others = ["20260101T120000.000Z-other.txt.diff", "notes.txt"];
    for (const f of [...old, ...others]) await Deno.writeTextFile(join(dir, f), "x\n");
    const fresh = conf(9);
    await Deno.writeTextFile(join(dir, fresh), "x\n");
    await pruneDiffFiles(dir, fresh);
    const kept = [conf(5), conf(6), conf(7), conf(7, "-2"), fresh];
    assertEquals(kept.length, DIFF_FILES_KEPT);
    assertEquals(await names(dir), [...kept, ...others].sort());

    // The next write in the same process drops the then-oldest one.
    const next = conf(10);
    await Deno.writeTextFile(join(dir, next), "x\n");
    await pruneDiffFiles(dir, next);
    assertEquals(await names(dir), [...kept.slice(1), next, ...others].sort());
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
