/**
 * The hash of the program's sources (it names the agent bundle) is remembered under the files' signatures: an
 * unchanged tree is not read again, any change gives the hash of the new contents, and a tree changed just now is
 * read and not remembered.
 */
import { assert, assertEquals } from "./support/assert.ts";
import { join } from "../core/runtime/path.ts";
import { sourceHash } from "../remote/transport/payload.ts";

/** A settle time that trusts the signatures of files changed just now (the ctime is rounded up to its second). */
const TRUST_ALL = -2000;

async function tree(): Promise<{ repo: string; cache: string }> {
  const repo = await Deno.makeTempDir({ prefix: "batou-srchash-" });
  await Deno.mkdir(join(repo, "core/model"), { recursive: true });
  await Deno.mkdir(join(repo, "lib"), { recursive: true });
  await Deno.writeTextFile(join(repo, "core/model/a.ts"), "export const a = 1;\n");
  await Deno.writeTextFile(join(repo, "lib/b.ts"), "export const b = 2;\n");
  await Deno.writeTextFile(join(repo, "deno.json"), "{}\n");
  const cache = join(repo, ".cache");
  return { repo, cache };
}

function withCache<T>(cache: string, f: () => Promise<T>): Promise<T> {
  const before = Deno.env.get("BATOU_CACHE_DIR");
  Deno.env.set("BATOU_CACHE_DIR", cache);
  return f().finally(() =>
    before === undefined ? Deno.env.delete("BATOU_CACHE_DIR") : Deno.env.set("BATOU_CACHE_DIR", before)
  );
}

function memos(cache: string): string[] {
  try {
    return [...Deno.readDirSync(join(cache, "hashes"))].map((e) => e.name).sort();
  } catch {
    return [];
  }
}

Deno.test("an unchanged tree's hash comes from the memo; a same-size change with the old mtime is seen", async () => {
  const { repo, cache } = await tree();
  await withCache(cache, async () => {
    const first = await sourceHash(repo, TRUST_ALL);
    assertEquals(memos(cache).length, 1, "remembered");
    // The memo is what answers for an unchanged tree: a planted value comes back.
    const [memo] = memos(cache);
    await Deno.writeTextFile(join(cache, "hashes", memo), "f".repeat(64) + "\n");
    assertEquals(await sourceHash(repo, TRUST_ALL), "f".repeat(64));
    await Deno.writeTextFile(join(cache, "hashes", memo), first + "\n");

    const file = join(repo, "lib/b.ts");
    const { mtime } = await Deno.stat(file);
    // Past the ctime's granularity (Deno gives it in whole seconds; TRUST_ALL trusts any signature).
    await new Promise((r) => setTimeout(r, 1100));
    await Deno.writeTextFile(file, "export const b = 3;\n"); // same size
    await Deno.utime(file, mtime!, mtime!); // mtime set back: only the ctime tells
    const changed = await sourceHash(repo, TRUST_ALL);
    assert(changed !== first, "a change with the old size and mtime gives another hash");
    await Deno.writeTextFile(file, "export const b = 2;\n");
    assertEquals(await sourceHash(repo, TRUST_ALL), first, "the same contents give the same hash");
  });
  await Deno.remove(repo, { recursive: true });
});

Deno.test("a tree changed within the settle time is read and not remembered", async () => {
  const { repo, cache } = await tree();
  await withCache(cache, async () => {
    const fresh = await sourceHash(repo, 60_000);
    assertEquals(memos(cache), [], "nothing remembered for files changed just now");
    assertEquals(await sourceHash(repo, TRUST_ALL), fresh, "the same hash as the remembered path gives");
    assertEquals(memos(cache).length, 1);
  });
  await Deno.remove(repo, { recursive: true });
});
