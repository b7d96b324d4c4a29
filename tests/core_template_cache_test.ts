/**
 * Parsed templates through the disk cache (core/model/template.ts compiledTemplate): a template from the cache
 * renders exactly what the freshly parsed one renders, an entry is used only for the very same source, and templates
 * that do not parse are not cached and fail with the same error every time.
 */
import { join } from "node:path";
import { assert, assertEquals } from "./support/assert.ts";
import { compiledTemplate, expand, templateKey } from "../core/model/template.ts";
import { parseTemplate } from "../core/model/jinja_parse.ts";
import { renderTemplate } from "../core/model/jinja_render.ts";
import { DiskCache } from "../core/runtime/disk_cache.ts";

/** Runs `fn` with a cache in a fresh directory that is removed afterwards. */
async function withCache(fn: (cache: DiskCache) => void | Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "batou-template-cache-test-" });
  try {
    await fn(new DiskCache(join(dir, "templates")));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** What the engine makes of `source` parsed afresh, without any cache, or the error it throws. */
function plain(source: string, context: Record<string, unknown>): string {
  try {
    return renderTemplate(parseTemplate(source), context);
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

Deno.test("template cache: parsed or cached, a template renders (and fails) exactly as a fresh parse does", async () => {
  await withCache((cache) => {
    for (const [source, context] of CASES) {
      const expected = plain(source, context);
      assertEquals(rendered(source, context, cache), expected, `first: ${source}`);
      assertEquals(rendered(source, context, cache), expected, `cached: ${source}`);
    }
    // Only the templates that parse are stored (`{% if %}` and an unknown filter do not parse).
    const stored = [...Deno.readDirSync(cache.dir!)].map((e) => e.name).sort();
    const compiling = CASES.filter(([s]) => s !== "{% if %}" && !s.includes("nosuchfilter"));
    assertEquals(stored, compiling.map(([s]) => `${templateKey(s).id}.js`).sort());
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
    assert(templateKey("A {{ x }}").id !== templateKey("B {{ x }}").id);
    assertEquals([...Deno.readDirSync(cache.dir!)].length, 2);
  });
});

Deno.test("template cache: expand() reports template errors with their line", () => {
  const cases: [string, string][] = [
    ["a\n{% if %}\n", "TemplateSyntaxError: expected an expression, got end of statement block (line 2)"],
    ["x {{ nope }}", "UndefinedError: 'nope' is undefined (line 1)"],
    ["{{ a | nosuch }}", "TemplateSyntaxError: no filter named 'nosuch' (line 1)"],
    ["@@ if nope\nx\n@@ endif\n", "UndefinedError: 'nope' is undefined (line 1)"],
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
