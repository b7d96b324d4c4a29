/**
 * Component files transpiled through the disk cache (core/runtime/transpile.ts): an entry is served only for the very same
 * source, path and sucrase version; a changed source is transpiled again; sources sucrase rejects are not cached.
 */
import { join } from "node:path";
import { assert, assertEquals, assertStringIncludes } from "./support/assert.ts";
import { SUCRASE_VERSION, transpile, transpileKey } from "../core/runtime/transpile.ts";
import { DiskCache } from "../core/runtime/disk_cache.ts";
import { sucrase } from "../core/runtime/lazy.ts";
import { REPO } from "./support/cli.ts";

const SOURCE =
  'import { Component } from "batou";\nexport class A extends Component {\n  greeting: string = "hi";\n}\n';
const PATH = "/project/components/a/component.ts";

/** Runs `fn` with a cache in a fresh directory that is removed afterwards. */
async function withCache(fn: (cache: DiskCache) => void | Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "batou-transpile-test-" });
  try {
    await fn(new DiskCache(join(dir, "transpiled")));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function entries(cache: DiskCache): string[] {
  return [...Deno.readDirSync(cache.dir!)].map((e) => e.name).sort();
}

/** The code sucrase makes of `source` (no cache involved). */
function direct(source: string, path: string): string {
  return sucrase().transform(source, {
    transforms: ["typescript", "imports"],
    disableESTransforms: true,
    filePath: path,
  }).code;
}

Deno.test("transpile: the cache names the sucrase in use (the version deno.json imports)", async () => {
  assertEquals(SUCRASE_VERSION, sucrase().getVersion());
  const config = JSON.parse(await Deno.readTextFile(join(REPO, "deno.json")));
  assertEquals(config.imports.sucrase, `npm:sucrase@${SUCRASE_VERSION}`);
});

Deno.test("transpile: the first call stores sucrase's output, the next is served from the entry", async () => {
  await withCache((cache) => {
    const code = transpile(SOURCE, PATH, cache);
    assertEquals(code, direct(SOURCE, PATH));
    const key = transpileKey(SOURCE, PATH);
    assertEquals(entries(cache), [`${key.id}.js`]);
    assertEquals(cache.get(key), code);
    // Replace the entry: the next call returns what the entry holds, without transpiling.
    cache.set(key, code + "\n// from the cache\n");
    assertEquals(transpile(SOURCE, PATH, cache), code + "\n// from the cache\n");
  });
});

Deno.test("transpile: a changed source is transpiled again, never served the old output", async () => {
  await withCache((cache) => {
    const before = transpile(SOURCE, PATH, cache);
    const changed = SOURCE.replace('"hi"', '"hello"');
    const after = transpile(changed, PATH, cache);
    assertStringIncludes(after, '"hello"');
    assert(!after.includes('"hi"'));
    assertEquals(after, direct(changed, PATH));
    assertEquals(entries(cache).length, 2);
    // Both stay valid: going back serves the first output again.
    assertEquals(transpile(SOURCE, PATH, cache), before);
  });
});

Deno.test("transpile: the key covers the path, the transforms and the source", () => {
  const key = transpileKey(SOURCE, PATH);
  assertEquals(transpileKey(SOURCE, PATH), key);
  assert(transpileKey(SOURCE, "/other/components/a/component.ts").id !== key.id);
  assert(transpileKey(SOURCE, PATH.replace(/\.ts$/, ".js")).id !== key.id);
  assert(transpileKey(SOURCE + " ", PATH).id !== key.id);
});

Deno.test("transpile: a damaged entry is transpiled again and replaced", async () => {
  await withCache((cache) => {
    const code = transpile(SOURCE, PATH, cache);
    const path = cache.path(transpileKey(SOURCE, PATH));
    const whole = Deno.readTextFileSync(path);
    Deno.writeTextFileSync(path, whole.replace("_batou", "_batoo"));
    assertEquals(transpile(SOURCE, PATH, cache), code);
    assertEquals(Deno.readTextFileSync(path), whole);
  });
});

Deno.test("transpile: a source sucrase rejects throws and leaves no entry", async () => {
  await withCache((cache) => {
    let error: unknown = null;
    try {
      transpile("export class {", PATH, cache);
    } catch (e) {
      error = e;
    }
    assert(error instanceof Error);
    transpile(SOURCE, PATH, cache);
    assertEquals(entries(cache), [`${transpileKey(SOURCE, PATH).id}.js`]);
  });
});

Deno.test("transpile: without a cache directory the output is the same", () => {
  assertEquals(transpile(SOURCE, PATH, new DiskCache(null)), direct(SOURCE, PATH));
});
