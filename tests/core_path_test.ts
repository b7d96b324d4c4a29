/**
 * core/runtime/path.ts gives the results of `node:path` (posix) for every function, on a table of awkward inputs and on
 * generated ones.
 */
import * as nodePath from "node:path";
import * as path from "../core/runtime/path.ts";
import { assert, assertEquals } from "./support/assert.ts";

/** `fn` throws an instance of `cls` (whose message contains `text`). */
function assertThrows(fn: () => unknown, cls: new (...args: never[]) => Error, text = ""): void {
  try {
    fn();
  } catch (e) {
    assert(e instanceof cls && e.message.includes(text), `unexpected error ${e}`);
    return;
  }
  throw new Error("did not throw");
}

const TABLE = [
  "",
  ".",
  "..",
  "...",
  "/",
  "//",
  "///",
  "/.",
  "/..",
  "/../..",
  "./",
  "../",
  ".//",
  "a",
  "a/",
  "a//",
  "/a",
  "//a",
  "///a",
  "//a/b",
  "a/b",
  "a/b/",
  "a//b",
  "a/./b",
  "a/../b",
  "a/b/..",
  "a/b/../",
  "a/..",
  "a/../..",
  "../a",
  "../../a/b",
  "./a",
  "/a/b/c/../../d",
  "/a/./b/.",
  "/a/b/../../..",
  "/a/b/../../../c",
  "a/b/../../../c",
  "..a",
  "a..",
  "a../b",
  ".a",
  ".a.",
  "a.",
  "a.b",
  "a.b.c",
  ".bashrc",
  "/x/.bashrc",
  "x/..b",
  "file.tar.gz",
  "/srv/app/file.tar.gz/",
  "dir.d/file",
  "dir.d/",
  "/foo/bar/baz/asdf/quux.html",
  "/foo/bar//baz/asdf/quux/..",
  "C:\\windows\\path",
  "a b/c d",
  "/ä/ö/ü.txt",
  "日本/語.テキスト",
  "🙂/🙃..",
  "/tmp/x/../../../../etc/passwd",
];

Deno.test("normalize, isAbsolute, dirname, basename, extname: as node:path on the table", () => {
  for (const p of TABLE) {
    assertEquals(path.normalize(p), nodePath.normalize(p), `normalize(${JSON.stringify(p)})`);
    assertEquals(path.isAbsolute(p), nodePath.isAbsolute(p), `isAbsolute(${JSON.stringify(p)})`);
    assertEquals(path.dirname(p), nodePath.dirname(p), `dirname(${JSON.stringify(p)})`);
    assertEquals(path.basename(p), nodePath.basename(p), `basename(${JSON.stringify(p)})`);
    assertEquals(path.extname(p), nodePath.extname(p), `extname(${JSON.stringify(p)})`);
  }
});

Deno.test("basename with a suffix: as node:path", () => {
  const suffixes = ["", ".", "a", "b", ".js", ".gz", "file.tar.gz", "/", "b/", ".bashrc", "c", "abc", "//"];
  for (const p of [...TABLE, "a.js", "/x/a.js/", ".js", "/.js", "abc", "/bc", "/bc/", "b.js.js"]) {
    for (const s of suffixes) {
      assertEquals(
        path.basename(p, s),
        nodePath.basename(p, s),
        `basename(${JSON.stringify(p)}, ${JSON.stringify(s)})`,
      );
    }
  }
});

Deno.test("join, resolve, relative: as node:path on pairs of the table (relative inputs use the cwd)", () => {
  for (const a of TABLE) {
    for (const b of TABLE) {
      assertEquals(path.join(a, b), nodePath.join(a, b), `join(${JSON.stringify(a)}, ${JSON.stringify(b)})`);
      assertEquals(path.resolve(a, b), nodePath.resolve(a, b), `resolve(${JSON.stringify(a)}, ${JSON.stringify(b)})`);
      assertEquals(
        path.relative(a, b),
        nodePath.relative(a, b),
        `relative(${JSON.stringify(a)}, ${JSON.stringify(b)})`,
      );
    }
  }
  assertEquals(path.join(), nodePath.join());
  assertEquals(path.join("", ""), nodePath.join("", ""));
  assertEquals(path.join("a", "", "/b/", "..", "c"), nodePath.join("a", "", "/b/", "..", "c"));
  assertEquals(path.resolve(), nodePath.resolve());
  assertEquals(path.resolve("/a", "b", "", "../c/"), nodePath.resolve("/a", "b", "", "../c/"));
  assertEquals(path.resolve("x", "/a", "y"), nodePath.resolve("x", "/a", "y"));
  assertEquals(path.relative("/ab", "/a"), "../a");
  assertEquals(path.relative("/a", "/ab/c"), "../ab/c");
  assertEquals(path.sep, nodePath.sep);
  assertEquals(path.delimiter, nodePath.delimiter);
});

Deno.test("resolve and relative do not read the working directory for absolute paths", () => {
  const cwd = Deno.cwd;
  Deno.cwd = () => {
    throw new Error("cwd read");
  };
  try {
    assertEquals(path.resolve("/a/b", "../c"), "/a/c");
    assertEquals(path.resolve("x", "/a/b", "c"), "/a/b/c");
    assertEquals(path.relative("/a/b", "/a/c/d"), "../c/d");
    assertThrows(() => path.resolve("x"), Error, "cwd read");
  } finally {
    Deno.cwd = cwd;
  }
});

Deno.test("generated paths: every function as node:path", () => {
  const parts = ["/", "/", ".", "..", "a", "b.c", "é", "", " ", ".x"];
  let seed = 12345;
  const random = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
  const make = () =>
    Array.from({ length: Math.floor(random() * 7) }, () => parts[Math.floor(random() * parts.length)]).join("");
  for (let n = 0; n < 3000; n++) {
    const a = make(), b = make(), c = make();
    const what = JSON.stringify([a, b, c]);
    assertEquals(path.normalize(a), nodePath.normalize(a), `normalize ${what}`);
    assertEquals(path.dirname(a), nodePath.dirname(a), `dirname ${what}`);
    assertEquals(path.basename(a), nodePath.basename(a), `basename ${what}`);
    assertEquals(path.basename(a, b), nodePath.basename(a, b), `basename ${what}`);
    assertEquals(path.extname(a), nodePath.extname(a), `extname ${what}`);
    assertEquals(path.join(a, b, c), nodePath.join(a, b, c), `join ${what}`);
    assertEquals(path.resolve("/r", a, b), nodePath.resolve("/r", a, b), `resolve ${what}`);
    assertEquals(path.relative("/r/" + a, "/r/" + b), nodePath.relative("/r/" + a, "/r/" + b), `relative ${what}`);
  }
});

Deno.test("non-string arguments are a TypeError, as in node:path", () => {
  for (
    const [fn, args] of [
      ["join", ["a", 1]],
      ["normalize", [undefined]],
      ["dirname", [null]],
      ["resolve", [{}]],
    ] as const
  ) {
    const call = (m: Record<string, unknown>) => () => (m[fn] as (...a: unknown[]) => unknown)(...args);
    assertThrows(call(nodePath as unknown as Record<string, unknown>), TypeError);
    assertThrows(call(path as unknown as Record<string, unknown>), TypeError);
  }
});
