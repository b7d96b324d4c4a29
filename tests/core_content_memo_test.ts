import { ok, strictEqual } from "node:assert/strict";
import { join } from "node:path";
import { ContentMemo, fingerprint } from "../core/runtime/content_memo.ts";
import { RACY_MARGIN_MS } from "../core/runtime/file_signature.ts";
import { cacheKey, DiskCache } from "../core/runtime/disk_cache.ts";

const enc = new TextEncoder();

/** A memo in a cache of its own under `dir`. */
function memoIn(dir: string): ContentMemo {
  return new ContentMemo(new DiskCache(join(dir, "cache")), cacheKey(["test memo", dir]));
}

/** Reads `path` as the content check does: the time before opening, the bytes, the open file's fstat after. */
function readLikeTheCheck(path: string): { started: number; bytes: Uint8Array; info: Deno.FileInfo } {
  const started = Date.now();
  const file = Deno.openSync(path);
  try {
    const bytes = new Uint8Array(file.statSync().size);
    file.readSync(bytes);
    return { started, bytes, info: file.statSync() };
  } finally {
    file.close();
  }
}

/** Runs `fn` with a temporary directory holding the file `name` ("hello\n"), removed afterwards. */
async function withFile(name: string, fn: (dir: string, path: string) => Promise<void> | void): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    const path = join(dir, name);
    await Deno.writeTextFile(path, "hello\n");
    await fn(dir, path);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("fingerprint tells apart bytes of the same length and the same bytes of other lengths", () => {
  const a = fingerprint(enc.encode("abcdef\n"));
  strictEqual(a, fingerprint(enc.encode("abcdef\n")));
  ok(a !== fingerprint(enc.encode("abcdeg\n")));
  ok(a !== fingerprint(enc.encode("bacdef\n")));
  ok(fingerprint(new Uint8Array(3)) !== fingerprint(new Uint8Array(4)));
  ok(/^[0-9a-f]{16}:7$/.test(a), a);
});

Deno.test("a file changed just now is not noted (ctime within the racy margin)", async () => {
  await withFile("f", (dir, path) => {
    const memo = memoIn(dir);
    const r = readLikeTheCheck(path);
    memo.remember(path, r.info, r.bytes, r.started);
    strictEqual(memo.holds(path, Deno.lstatSync(path), r.bytes), false);
  });
});

Deno.test("an old file is noted, kept across processes, and only for its bytes; a damaged memo is empty", async () => {
  await withFile("f", (dir, path) => {
    const memo = memoIn(dir);
    const r = readLikeTheCheck(path);
    // As if the read had begun later than the racy margin after the write (the next test waits for real).
    memo.remember(path, r.info, r.bytes, r.started + RACY_MARGIN_MS + 1000);
    ok(memo.holds(path, Deno.lstatSync(path), r.bytes));
    strictEqual(memo.holds(path, Deno.lstatSync(path), enc.encode("HELLO\n")), false);
    strictEqual(memo.holds(join(dir, "other"), Deno.lstatSync(path), r.bytes), false);
    memo.save();
    ok(memoIn(dir).holds(path, Deno.lstatSync(path), r.bytes), "read back from the cache");
    const cache = new DiskCache(join(dir, "cache"));
    const key = cacheKey(["test memo", dir]);
    cache.set(key, '{"entries":[["' + path + '",6,"x",0,0,0,"f"]]}');
    strictEqual(memoIn(dir).holds(path, Deno.lstatSync(path), r.bytes), false);
    cache.set(key, "not json");
    strictEqual(memoIn(dir).holds(path, Deno.lstatSync(path), r.bytes), false);
  });
});

Deno.test("same size, other bytes and the mtime put back: the ctime gives the change away", async () => {
  await withFile("f", async (dir, path) => {
    await new Promise((resolve) => setTimeout(resolve, RACY_MARGIN_MS + 100));
    const memo = memoIn(dir);
    const r = readLikeTheCheck(path);
    memo.remember(path, r.info, r.bytes, r.started);
    ok(memo.holds(path, Deno.lstatSync(path), r.bytes), "noted for real after the margin");
    const before = Deno.lstatSync(path);
    await Deno.writeTextFile(path, "HELLO\n");
    Deno.utimeSync(path, before.atime!, before.mtime!);
    const after = Deno.lstatSync(path);
    strictEqual(after.mtime!.getTime(), before.mtime!.getTime());
    strictEqual(after.size, before.size);
    strictEqual(memo.holds(path, after, r.bytes), false);
  });
});

Deno.test("the memo holds no path as text (a managed file's name may hold a secret)", async () => {
  await withFile("token-s3cr3t-name", (dir, path) => {
    const memo = memoIn(dir);
    const r = readLikeTheCheck(path);
    memo.remember(path, r.info, r.bytes, r.started + RACY_MARGIN_MS + 1000);
    memo.save();
    const stored = [...Deno.readDirSync(join(dir, "cache"))].map((e) =>
      Deno.readTextFileSync(join(dir, "cache", e.name))
    );
    strictEqual(stored.length, 1);
    ok(!stored[0].includes("s3cr3t"), stored[0]);
    ok(memoIn(dir).holds(path, Deno.lstatSync(path), r.bytes), "found by the path's hash");
  });
});
