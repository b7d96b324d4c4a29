/**
 * Compiled template code through the disk cache (core/model/template.ts compiledTemplate): it renders exactly what
 * nunjucks renders from the source, an entry is used only for the very same source, and templates that do not
 * compile are not cached and fail as nunjucks reports them.
 */
import { join } from "node:path";
import { assert, assertEquals } from "./support/assert.ts";
import { compiledTemplate, expand, NUNJUCKS_VERSION, templateKey } from "../core/model/template.ts";
import { DiskCache } from "../core/runtime/disk_cache.ts";
import { nunjucks } from "../core/runtime/lazy.ts";
import { REPO } from "./support/cli.ts";

/** Runs `fn` with a cache in a fresh directory that is removed afterwards. */
async function withCache(fn: (cache: DiskCache) => void | Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "batou-template-cache-test-" });
  try {
    await fn(new DiskCache(join(dir, "templates")));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** What nunjucks itself makes of `source` (compiled from the source on render), or the error it throws. */
function plain(source: string, context: Record<string, unknown>): string {
  const { Environment, Template } = nunjucks();
  const env = new Environment(null, { autoescape: false, throwOnUndefined: true });
  try {
    return new Template(source, env).render(context);
  } catch (e) {
    return `error: ${(e as Error).message}`;
  }
}

function rendered(source: string, context: Record<string, unknown>, cache: DiskCache): string {
  try {
    return compiledTemplate(source, cache).render(context);
  } catch (e) {
    return `error: ${(e as Error).message}`;
  }
}

const CASES: [string, Record<string, unknown>][] = [
  ["Hello {{ name }}!\n", { name: "world" }],
  ["{% for i in items %}{{ loop.index }}={{ i | upper }}\n{% endfor %}", { items: ["a", "b"] }],
  ['{{ x if x == "f000" else "none" }} {{ "%04d" | format(n) }}', { x: "f000", n: 7 }],
  ["{% set a = 1 %}{% if a > 0 %}{{ a + 1 }}{% else %}no{% endif %}", {}],
  ["line 1\n{{ missing.attr }}\n", {}],
  ["{{ nothing }}", {}],
  ["{% if %}", {}],
  ["{{ x | nosuchfilter }}", { x: 1 }],
];

Deno.test("template cache: the cache names the nunjucks in use (the version deno.json imports)", async () => {
  const config = JSON.parse(await Deno.readTextFile(join(REPO, "deno.json")));
  assertEquals(config.imports.nunjucks, `npm:nunjucks@${NUNJUCKS_VERSION}`);
});

Deno.test("template cache: compiled or cached, a template renders (and fails) exactly as nunjucks does", async () => {
  await withCache((cache) => {
    for (const [source, context] of CASES) {
      const expected = plain(source, context);
      assertEquals(rendered(source, context, cache), expected, `first: ${source}`);
      assertEquals(rendered(source, context, cache), expected, `cached: ${source}`);
    }
    // Only the templates that compile are stored (an unknown filter fails on render, `{% if %}` does not compile).
    const stored = [...Deno.readDirSync(cache.dir!)].map((e) => e.name).sort();
    const compiling = CASES.filter(([s]) => s !== "{% if %}");
    assertEquals(stored, compiling.map(([s]) => `${templateKey(s)}.js`).sort());
  });
});

Deno.test("template cache: the second template of a source is made from the entry", async () => {
  await withCache((cache) => {
    const source = "Hello {{ name }}!";
    assertEquals(compiledTemplate(source, cache).render({ name: "a" }), "Hello a!");
    const key = templateKey(source);
    const code = cache.get(key)!;
    assert(code.includes("Hello "));
    cache.set(key, code.replace("Hello ", "Cached "));
    assertEquals(compiledTemplate(source, cache).render({ name: "a" }), "Cached a!");
  });
});

Deno.test("template cache: a changed source is compiled again, never served the old code", async () => {
  await withCache((cache) => {
    assertEquals(compiledTemplate("A {{ x }}", cache).render({ x: 1 }), "A 1");
    assertEquals(compiledTemplate("B {{ x }}", cache).render({ x: 1 }), "B 1");
    assert(templateKey("A {{ x }}") !== templateKey("B {{ x }}"));
    assertEquals([...Deno.readDirSync(cache.dir!)].length, 2);
  });
});

Deno.test("template cache: expand() reports template errors as before", () => {
  const cases: [string, string][] = [
    ["a\n{% if %}\n", "TemplateSyntaxError: line 2, column 7: unexpected token: %}"],
    ["x {{ nope }}", "UndefinedError: 'nope' is undefined (line 1)"],
    ["{{ a | nosuch }}", "TemplateSyntaxError: filter not found: nosuch (line 1)"],
  ];
  for (const [source, message] of cases) {
    for (let round = 0; round < 2; round++) {
      let error: unknown = null;
      try {
        expand(source, { a: 1 }, "t.j2");
      } catch (e) {
        error = e;
      }
      assertEquals((error as Error)?.message, `An error occured while rendering a template (t.j2): ${message}`);
    }
  }
});
