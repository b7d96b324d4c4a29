/**
 * core/runtime/bundle_require.ts: the built-ins a bundle's CommonJS packages require. node:path is core/runtime/path.ts (other
 * members from the real module), node:fs & co. stand-ins for the real modules,
 * everything else the real module; names that are no built-in throw as `require` does.
 */
import * as nodePath from "node:path";
import type * as nodeFs from "node:fs";
import process from "node:process";
import { registerBundleRequire, requireBuiltin } from "../core/runtime/bundle_require.ts";
import { join } from "../core/runtime/path.ts";
import { assert, assertEquals } from "./support/assert.ts";

Deno.test("node:path is core/runtime/path.ts, with node:path's results and its other members", () => {
  const path = requireBuiltin("node:path") as typeof nodePath;
  assert(requireBuiltin("path") === path && path.posix === path && requireBuiltin("node:path/posix") === path);
  assert(path.join === join);
  for (const p of ["", "/a/b/../c/", "x/./y.tar.gz", "//"]) {
    assertEquals(path.normalize(p), nodePath.normalize(p));
    assertEquals(path.resolve("/base", p), nodePath.resolve("/base", p));
    assertEquals(path.dirname(p), nodePath.dirname(p));
    assertEquals(path.extname(p), nodePath.extname(p));
    assertEquals(path.parse(p), nodePath.parse(p));
  }
  assertEquals([path.sep, path.delimiter], [nodePath.sep, nodePath.delimiter]);
  assertEquals(path.format({ dir: "/a", base: "b.txt" }), "/a/b.txt");
});

Deno.test("node:fs is a stand-in that behaves as the real module", async () => {
  const fs = requireBuiltin("node:fs") as typeof nodeFs;
  assert(requireBuiltin("fs") === fs);
  const dir = await Deno.makeTempDir({ prefix: "batou-bundle-require-test-" });
  try {
    const file = join(dir, "x.txt");
    await Deno.writeTextFile(file, "hello");
    assert(fs.existsSync(file) && !fs.existsSync(join(dir, "missing")));
    assertEquals(fs.readFileSync(file, "utf-8"), "hello");
    assert("readFileSync" in fs);
    const real = (process as unknown as { getBuiltinModule(id: string): object }).getBuiltinModule("node:fs");
    assertEquals(Object.keys(fs).sort(), Object.keys(real).sort());
    assertEquals(typeof fs.promises.readFile, "function");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  const proc = requireBuiltin("node:process") as typeof process;
  assertEquals(proc.env.HOME, Deno.env.get("HOME"));
  assertEquals(typeof proc.emitWarning, "function");
  const buffer = requireBuiltin("node:buffer") as { Buffer: { from(s: string): Uint8Array } };
  assertEquals([...buffer.Buffer.from("ab")], [97, 98]);
});

Deno.test("other built-ins are the real modules; other names throw MODULE_NOT_FOUND", () => {
  const getBuiltinModule = (process as unknown as { getBuiltinModule(id: string): unknown }).getBuiltinModule;
  assert(requireBuiltin("node:crypto") === getBuiltinModule("node:crypto"));
  assert(requireBuiltin("util") === getBuiltinModule("node:util"));
  for (const id of ["chokidar", "node:no-such-module"]) {
    let code: unknown = null;
    try {
      requireBuiltin(id);
    } catch (e) {
      code = (e as { code?: string }).code;
      assertEquals((e as Error).message, `Cannot find module '${id}'`);
    }
    assertEquals(code, "MODULE_NOT_FOUND");
  }
});

Deno.test("registerBundleRequire: nothing to register outside a bundle", () => {
  assertEquals(registerBundleRequire(), false);
});
