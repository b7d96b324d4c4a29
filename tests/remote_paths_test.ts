/** Path helpers of the transports: `fromFileUrl` against `node:url`'s `fileURLToPath`, and `expandHome`. */
import { assert, assertEquals } from "./support/assert.ts";
import { fileURLToPath, pathToFileURL } from "node:url";
import { expandHome, fromFileUrl } from "../remote/contract/paths.ts";

Deno.test("fromFileUrl gives fileURLToPath's path for file: URLs", () => {
  const urls = [
    "file:///work/main/main.ts",
    "file:///tmp/a%20b/c.ts",
    "file:///tmp/%C3%A4%E2%82%AC/x",
    "file://localhost/etc/hosts",
    "file:///",
    "file:///a/b/../c",
    new URL("../main.ts", "file:///work/main/remote/bootstrap.ts").href,
    pathToFileURL("/tmp/with #hash and ?query/ü").href,
  ];
  for (const url of urls) {
    assertEquals(fromFileUrl(url), fileURLToPath(url), url);
    assertEquals(fromFileUrl(new URL(url)), fileURLToPath(url), url);
  }
});

function throws(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  return null;
}

Deno.test("fromFileUrl refuses what fileURLToPath refuses", () => {
  for (const url of ["https://example.com/x", "file:///a%2Fb", "file:///a%2fb", "file://server/share/x"]) {
    assert(throws(() => fileURLToPath(url)) !== null, `fileURLToPath took ${url}`);
    assert(throws(() => fromFileUrl(url)) instanceof TypeError, `fromFileUrl took ${url}`);
  }
});

Deno.test("expandHome expands a leading ~ only", () => {
  const home = Deno.env.get("HOME")!;
  assertEquals(expandHome("~"), home);
  assertEquals(expandHome("~/x"), `${home}/x`);
  assertEquals(expandHome("~x/y"), "~x/y");
  assertEquals(expandHome("/a/~/b"), "/a/~/b");
});
