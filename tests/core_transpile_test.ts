/**
 * The transpile cache of component files (core/transpile.ts): an entry is served only for the very same source,
 * path and sucrase version; a changed source is transpiled again; damaged entries, failures and pruning.
 */
import { createHash } from "node:crypto";
import { join } from "node:path";
import { assert, assertEquals, assertStringIncludes } from "./support/assert.ts";
import { CACHE_ENTRIES, SUCRASE_VERSION, transpile, transpileKey } from "../core/transpile.ts";
import { sucrase } from "../core/lazy.ts";

const SOURCE =
  'import { Component } from "batou";\nexport class A extends Component {\n  greeting: string = "hi";\n}\n';
const PATH = "/project/components/a/component.ts";

/** Runs `fn` with a fresh cache directory that is removed afterwards. */
async function withCacheDir(fn: (dir: string) => void | Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "batou-transpile-test-" });
  try {
    await fn(join(dir, "transpiled"));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function entries(dir: string): string[] {
  return [...Deno.readDirSync(dir)].map((e) => e.name).sort();
}

function sha256(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

/** The code sucrase makes of `source` (no cache involved). */
function direct(source: string, path: string): string {
  return sucrase().transform(source, {
    transforms: ["typescript", "imports"],
    disableESTransforms: true,
    filePath: path,
  })
    .code;
}

Deno.test("transpile: the cache names the sucrase in use", () => {
  assertEquals(SUCRASE_VERSION, sucrase().getVersion());
});

Deno.test("transpile: the first call stores sucrase's output, the second is served from the entry", async () => {
  await withCacheDir((dir) => {
    const code = transpile(SOURCE, PATH, dir);
    assertEquals(code, direct(SOURCE, PATH));
    const key = transpileKey(SOURCE, PATH);
    assertEquals(entries(dir), [`${key}.js`]);
    // Replace the entry's code (with a matching header): the next call returns what the entry holds.
    const marked = code + "\n// from the cache\n";
    Deno.writeTextFileSync(join(dir, `${key}.js`), `//batou-transpiled ${key} ${sha256(marked)}\n${marked}`);
    assertEquals(transpile(SOURCE, PATH, dir), marked);
  });
});

Deno.test("transpile: a changed source is transpiled again, never served the old output", async () => {
  await withCacheDir((dir) => {
    const before = transpile(SOURCE, PATH, dir);
    const changed = SOURCE.replace('"hi"', '"hello"');
    const after = transpile(changed, PATH, dir);
    assertStringIncludes(after, '"hello"');
    assert(!after.includes('"hi"'));
    assertEquals(after, direct(changed, PATH));
    assertEquals(entries(dir).length, 2);
    // Both versions stay valid: going back serves the first output again.
    assertEquals(transpile(SOURCE, PATH, dir), before);
  });
});

Deno.test("transpile: the key covers the path, the transforms and the source", () => {
  const key = transpileKey(SOURCE, PATH);
  assert(/^[0-9a-f]{64}$/.test(key));
  assertEquals(transpileKey(SOURCE, PATH), key);
  assert(transpileKey(SOURCE, "/other/components/a/component.ts") !== key);
  assert(transpileKey(SOURCE, PATH.replace(/\.ts$/, ".js")) !== key);
  assert(transpileKey(SOURCE + " ", PATH) !== key);
});

Deno.test("transpile: a damaged or foreign entry counts as missing and is replaced", async () => {
  await withCacheDir((dir) => {
    const code = transpile(SOURCE, PATH, dir);
    const entry = join(dir, `${transpileKey(SOURCE, PATH)}.js`);
    const whole = Deno.readTextFileSync(entry);
    for (const damaged of [whole.slice(0, whole.length - 10), whole.replace("_batou", "_batoo"), "", "no header"]) {
      Deno.writeTextFileSync(entry, damaged);
      assertEquals(transpile(SOURCE, PATH, dir), code);
      assertEquals(Deno.readTextFileSync(entry), whole);
    }
    // An entry of another key under this name (a valid header, but not this key's) is not served either.
    const other = SOURCE.replace('"hi"', '"other"');
    transpile(other, PATH, dir);
    Deno.copyFileSync(join(dir, `${transpileKey(other, PATH)}.js`), entry);
    assertEquals(transpile(SOURCE, PATH, dir), code);
  });
});

Deno.test("transpile: a source sucrase rejects throws and leaves no entry; no temporary files remain", async () => {
  await withCacheDir((dir) => {
    let error: unknown = null;
    try {
      transpile("export class {", PATH, dir);
    } catch (e) {
      error = e;
    }
    assert(error instanceof Error);
    transpile(SOURCE, PATH, dir);
    assertEquals(entries(dir), [`${transpileKey(SOURCE, PATH)}.js`]);
  });
});

Deno.test("transpile: without a cache directory nothing is written; an unwritable one is no error", async () => {
  await withCacheDir((dir) => {
    assertEquals(transpile(SOURCE, PATH, null), direct(SOURCE, PATH));
    // A file where the directory should be: the cache cannot be created, the output is still right.
    Deno.mkdirSync(join(dir, ".."), { recursive: true });
    Deno.writeTextFileSync(dir, "not a directory");
    assertEquals(transpile(SOURCE, PATH, dir), direct(SOURCE, PATH));
    Deno.removeSync(dir);
  });
});

Deno.test("transpile: the cache keeps the newest entries only", async () => {
  await withCacheDir((dir) => {
    Deno.mkdirSync(dir, { recursive: true });
    const old = new Date(Date.now() - 86_400_000);
    for (let i = 0; i < CACHE_ENTRIES; i++) {
      const path = join(dir, `${String(i).padStart(64, "0")}.js`);
      Deno.writeTextFileSync(path, "");
      Deno.utimeSync(path, old, new Date(old.getTime() + i * 1000));
    }
    transpile(SOURCE, PATH, dir);
    const left = entries(dir);
    assertEquals(left.length, CACHE_ENTRIES);
    assert(left.includes(`${transpileKey(SOURCE, PATH)}.js`));
    assert(!left.includes(`${"0".repeat(64)}.js`), "the oldest entry is gone");
    assert(left.includes(`${String(CACHE_ENTRIES - 1).padStart(64, "0")}.js`));
  });
});
