/**
 * The content-addressed disk cache (core/runtime/disk_cache.ts): entries are served only whole and under their own key,
 * written atomically, damaged ones count as missing, the newest `maxEntries` are kept, and a cache that cannot be
 * written is no error.
 */
import { join } from "node:path";
import { assert, assertEquals } from "./support/assert.ts";
import { cacheKey, DiskCache, PRUNE_EVERY } from "../core/runtime/disk_cache.ts";

/** Runs `fn` with a fresh cache directory (not yet created) that is removed afterwards. */
async function withDir(fn: (dir: string) => void | Promise<void>): Promise<void> {
  const base = await Deno.makeTempDir({ prefix: "batou-disk-cache-test-" });
  try {
    await fn(join(base, "cache"));
  } finally {
    await Deno.remove(base, { recursive: true });
  }
}

function names(dir: string): string[] {
  return [...Deno.readDirSync(dir)].map((e) => e.name).sort();
}

Deno.test("disk cache: an entry is named by a hash of its parts and served as stored", async () => {
  const key = cacheKey(["a", 1, ["b"]]);
  assertEquals(key.input, '["a",1,["b"]]');
  assert(/^[0-9a-f]{32}$/.test(key.id), key.id);
  assertEquals(cacheKey(["a", 1, ["b"]]).id, key.id);
  assert(cacheKey(["a", 1, ["c"]]).id !== key.id);
  assert(cacheKey(["a", 1, ["b "]]).id !== key.id);
  await withDir((dir) => {
    const cache = new DiskCache(dir);
    assertEquals(cache.get(key), null);
    cache.set(key, "text\nwith lines\n");
    assertEquals(cache.get(key), "text\nwith lines\n");
    assertEquals(names(dir), [`${key.id}.js`]);
    assertEquals((Deno.statSync(dir).mode ?? 0) & 0o777, 0o700);
    assertEquals((Deno.statSync(cache.path(key)).mode ?? 0) & 0o777, 0o600);
  });
});

Deno.test("disk cache: a damaged entry or one of another key counts as missing", async () => {
  await withDir((dir) => {
    const cache = new DiskCache(dir);
    const key = cacheKey(["one"]);
    cache.set(key, "the text of one");
    const whole = Deno.readTextFileSync(cache.path(key));
    for (const damaged of [whole.slice(0, -3), whole.replace("one", "two"), "", "no header at all"]) {
      Deno.writeTextFileSync(cache.path(key), damaged);
      assertEquals(cache.get(key), null, JSON.stringify(damaged));
    }
    // A valid entry of another key, copied under this key's name, is not served.
    const other = cacheKey(["other"]);
    cache.set(other, "the text of other");
    Deno.copyFileSync(cache.path(other), cache.path(key));
    assertEquals(cache.get(key), null);
    assertEquals(cache.get(other), "the text of other");
    // Two inputs with the same name (a hash collision) are told apart by the input the entry holds.
    const twin = { id: key.id, input: JSON.stringify(["not one"]) };
    cache.set(key, "the text of one");
    assertEquals(cache.get(twin), null);
    cache.set(twin, "the text of the twin");
    assertEquals(cache.get(key), null);
    assertEquals(cache.get(twin), "the text of the twin");
  });
});

Deno.test("disk cache: the first write of an instance keeps the newest entries; no temporary files remain", async () => {
  await withDir((dir) => {
    const keys = Array.from({ length: 7 }, (_, i) => cacheKey([i]));
    const start = Date.now() - 3_600_000;
    const earlier = new DiskCache(dir, 100);
    for (const [i, key] of keys.slice(0, 6).entries()) {
      earlier.set(key, `entry ${i}`);
      Deno.utimeSync(earlier.path(key), new Date(start + i * 1000), new Date(start + i * 1000));
    }
    assertEquals(names(dir).length, 6);
    const cache = new DiskCache(dir, 5);
    cache.set(keys[6], "entry 6");
    assertEquals(names(dir), keys.slice(2).map((k) => `${k.id}.js`).sort());
    assertEquals(cache.get(keys[6]), "entry 6");
    // Later writes of the same instance prune only every PRUNE_EVERY writes.
    for (let i = 1; i < PRUNE_EVERY; i++) cache.set(cacheKey(["more", i]), "more");
    assertEquals(names(dir).length, 5 + PRUNE_EVERY - 1);
    cache.set(cacheKey(["more", PRUNE_EVERY]), "more");
    assertEquals(names(dir).length, 5);
  });
});

Deno.test("disk cache: no directory, or one that cannot be created, holds nothing and fails nothing", async () => {
  const none = new DiskCache(null);
  none.set(cacheKey(["x"]), "x");
  assertEquals(none.get(cacheKey(["x"])), null);
  await withDir((dir) => {
    Deno.writeTextFileSync(dir, "a file where the directory should be");
    const cache = new DiskCache(dir);
    cache.set(cacheKey(["x"]), "x");
    assertEquals(cache.get(cacheKey(["x"])), null);
    assertEquals(names(join(dir, "..")), ["cache"]);
  });
});

Deno.test("disk cache: names must be 32 hex digits (no path can be formed from anything else)", () => {
  let error: unknown = null;
  try {
    new DiskCache("/tmp").path({ id: "../etc/passwd", input: "" });
  } catch (e) {
    error = e;
  }
  assert(error instanceof Error);
});
