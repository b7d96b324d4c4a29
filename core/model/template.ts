/**
 * Templates as batou renders them: Jinja2 3.x syntax and output with batou's settings (StrictUndefined, the trailing
 * newline kept, `@@` line statements), by batou's own engine (core/model/jinja_parse.ts, jinja_render.ts). What the
 * engine does not support fails with an error naming the template, the line and the construct (docs/templates.md).
 *
 * @example
 * ```ts
 * import { expand } from "./template.ts";
 * expand("Hello {{ name }}\n", { name: "world" }); // "Hello world\n"
 * ```
 * @module
 */
import { output } from "./output.ts";
import { TemplatingError } from "./errors.ts";
import { parseTemplate, type Template } from "./jinja_parse.ts";
import { renderTemplate } from "./jinja_render.ts";
import { cacheDir, type CacheKey, cacheKey, DiskCache } from "../runtime/disk_cache.ts";

/** Bumped whenever the parsed form of templates (the tree stored in the cache) changes. */
export const TEMPLATE_FORMAT = "batou-jinja-tree-2";

/** A template ready to render. */
export interface CompiledTemplate {
  /** Renders with `context`; throws `TemplateSyntaxError`, `UndefinedError`, `TypeError`... naming the line. */
  render(context: Record<string, unknown>): string;
}

/**
 * Parsed templates on disk (`~/.cache/batou/templates`): an agent renders the same templates on every deployment;
 * the cache keeps their parse trees (JSON) by source and {@linkcode TEMPLATE_FORMAT} (see {@linkcode DiskCache}).
 */
let diskCache: DiskCache | null = null;

/** The parsed-template cache used by {@linkcode expand}: `$BATOU_CACHE_DIR/templates` or `~/.cache/batou/templates`. */
export function defaultTemplateCache(): DiskCache {
  return diskCache ??= new DiskCache(cacheDir("templates"), 1024);
}

/** The cache key of the parsed form of `source`. */
export function templateKey(source: string): CacheKey {
  return cacheKey([TEMPLATE_FORMAT, source]);
}

/**
 * The template of `source`, its tree from `cache` when it has it, else parsed (and stored). A source that does not
 * parse gives a template that fails on render with the syntax error (nothing is stored).
 */
export function compiledTemplate(source: string, cache: DiskCache = defaultTemplateCache()): CompiledTemplate {
  const key = templateKey(source);
  const stored = cache.get(key);
  let tree: Template;
  try {
    tree = stored === null ? parseTemplate(source) : JSON.parse(stored);
  } catch (e) {
    return {
      render() {
        throw e;
      },
    };
  }
  if (stored === null) cache.set(key, JSON.stringify(tree));
  return { render: (context) => renderTemplate(tree, context) };
}

const LARGE = 100 * 1024;

/**
 * Compiled templates by source text. A model renders the same template many times (one file template for many
 * files, every host's roots configured on every agent). A template that fails to parse fails again, with the same
 * error, on every render.
 */
const compiled = new Map<string, CompiledTemplate>();
/** Bounds of the cache: entries and total source characters (the oldest entries go first). */
const CACHE_ENTRIES = 512;
const CACHE_CHARS = 8 * 1024 * 1024;
let cachedChars = 0;

function templateFor(source: string): CompiledTemplate {
  let tmpl = compiled.get(source);
  if (tmpl) return tmpl;
  tmpl = compiledTemplate(source);
  compiled.set(source, tmpl);
  cachedChars += source.length;
  for (const [key] of compiled) {
    if (compiled.size <= CACHE_ENTRIES && cachedChars <= CACHE_CHARS) break;
    if (key === source) break;
    compiled.delete(key);
    cachedChars -= key.length;
  }
  return tmpl;
}

/**
 * Renders `source` with `context`. Throws {@linkcode TemplatingError} naming `identifier`.
 */
export function expand(source: string, context: Record<string, unknown>, identifier = "<template>"): string {
  if (source.length > LARGE) {
    output.error(
      "You are trying to render a template that is bigger than 100KiB we've seen that Jinja can crash at large " +
        "templates and suggest you find alternatives for this. The affected template starts with:",
    );
    output.annotate(source.slice(0, 100));
  }
  if (!source.includes("{") && !source.includes("@@")) return source;
  try {
    return templateFor(source).render(context);
  } catch (e) {
    throw TemplatingError.of(identifier, e);
  }
}
