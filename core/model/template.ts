/**
 * Templates with nunjucks (Jinja2 syntax): undefined variables are errors and a
 * trailing newline is kept, never added.
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
import { nunjucks } from "../runtime/lazy.ts";
import type { NunjucksEnvironment, NunjucksTemplate } from "../runtime/lazy_nunjucks.ts";
import { cacheDir, cacheKey, DiskCache } from "../runtime/disk_cache.ts";

/** The nunjucks version the compiled-template cache keys name (tests check it against deno.json). */
export const NUNJUCKS_VERSION = "3.2.4";

/** Bumped whenever the way templates are compiled changes. */
const FORMAT = "nunjucks-code-1";

/** The nunjucks environment, made with the first template (a bundle evaluates nunjucks only then). */
let env: NunjucksEnvironment | null = null;

function environment(): NunjucksEnvironment {
  return env ??= new (nunjucks().Environment)(null, { autoescape: false, throwOnUndefined: true });
}

/**
 * Compiled template code on disk (`~/.cache/batou/templates`): an agent renders the same templates on every
 * deployment, and compiling one runs nunjucks' lexer, parser and compiler, cold in every new process (W1's template:
 * 5 ms). Keyed by the source, the environment's options and nunjucks' version (see {@linkcode DiskCache}).
 */
let diskCache: DiskCache | null = null;

/** The compiled-template cache used by {@linkcode expand}: `$BATOU_CACHE_DIR/templates` or `~/.cache/batou/templates`. */
export function defaultTemplateCache(): DiskCache {
  return diskCache ??= new DiskCache(cacheDir("templates"), 1024);
}

/** The cache key of the compiled code of `source`. */
export function templateKey(source: string): string {
  return cacheKey([FORMAT, NUNJUCKS_VERSION, environment().opts, source]);
}

/**
 * A nunjucks template of `source` whose compiled code comes from `cache` when it has it, else from nunjucks'
 * compiler (and is stored). A source that does not compile gives a template made from the source, which fails on
 * render exactly as nunjucks reports it (nothing is stored).
 */
export function compiledTemplate(source: string, cache: DiskCache = defaultTemplateCache()): NunjucksTemplate {
  const { Template, compile } = nunjucks();
  const e = environment();
  const key = templateKey(source);
  let code = cache.get(key);
  const fresh = code === null;
  let props: unknown;
  try {
    // As nunjucks' Template compiles a source: the code returns the root and block render functions.
    code ??= compile(source, e.asyncFilters, e.extensionsList, undefined, e.opts);
    props = new Function(code)();
  } catch {
    return new Template(source, e);
  }
  if (fresh) cache.set(key, code);
  return new Template({ type: "code", obj: props }, e);
}

const LARGE = 100 * 1024;

/**
 * Compiled templates by source text. A model renders the same template many times (one file template for many
 * files, every host's roots configured on every agent); nunjucks' `renderString` would parse and compile it each
 * time. A template that fails to compile stays uncompiled and fails again, with the same error, on every render.
 */
const compiled = new Map<string, NunjucksTemplate>();
/** Bounds of the cache: entries and total source characters (the oldest entries go first). */
const CACHE_ENTRIES = 512;
const CACHE_CHARS = 8 * 1024 * 1024;
let cachedChars = 0;

function templateFor(source: string): NunjucksTemplate {
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

/** Makes nunjucks' error messages read like batou's (`line 3, column 5: ...`). */
function cleanMessage(error: unknown, source: string): Error {
  if (!(error instanceof Error)) return new Error(String(error));
  const pos = /\[Line (\d+), Column (\d+)\]/.exec(error.message);
  if (pos && /null or undefined value/.test(error.message)) {
    const line = source.split("\n")[Number(pos[1]) - 1] ?? "";
    const col = Number(pos[2]);
    const start = line.lastIndexOf("{{", col + 1);
    const end = line.indexOf("}}", Math.max(start, 0));
    if (start >= 0 && end > start) {
      const e = new Error(`'${line.slice(start + 2, end).trim()}' is undefined (line ${pos[1]})`);
      e.name = "UndefinedError";
      return e;
    }
  }
  let msg = error.message.replace(/^\(unknown path\)\s*/, "").replace(
    /^Template render error:\s*(\(unknown path\))?\s*/,
    "",
  );
  msg = msg.replace(/\[Line (\d+), Column (\d+)\]\s*\n?\s*/, (_m, l, c) => `line ${l}, column ${c}: `);
  msg = msg.replace(
    /attempted to output null or undefined value/,
    "undefined value (a variable or attribute is undefined)",
  );
  msg = msg.replace(/^Error:\s*/, "");
  msg = withPlace(msg, source);
  const isSyntax = /expected|unexpected|unknown block tag|parse|filter not found/i.test(msg) &&
    !/undefined value/.test(msg);
  const e = new Error(msg.trim());
  e.name = isSyntax
    ? "TemplateSyntaxError"
    : /undefined/.test(msg)
    ? "UndefinedError"
    : /\s/.test(error.name)
    ? "TemplateError"
    : error.name;
  return e;
}

/** Adds the place to nunjucks messages that have none: the line of an unknown filter or an unclosed tag. */
function withPlace(msg: string, source: string): string {
  if (/^line \d+/.test(msg) || /\(line \d+\)/.test(msg)) return msg;
  const lines = source.split("\n");
  const lineOf = (test: (l: string) => boolean) => {
    const i = lines.findIndex(test);
    return i < 0 ? msg : `${msg} (line ${i + 1})`;
  };
  const filter = /^filter not found: (\S+)/.exec(msg);
  if (filter) {
    const re = new RegExp(`\\|\\s*${filter[1].replace(/[^\w]/g, "\\$&")}\\b`);
    return lineOf((l) => re.test(l));
  }
  if (/^expected variable end/.test(msg)) return lineOf((l) => /\{\{(?![^]*\}\})/.test(l));
  if (/^expected block end/.test(msg)) return lineOf((l) => /\{%(?![^]*%\})/.test(l));
  if (/got end of file/.test(msg)) return `${msg} (line ${lines.length - (source.endsWith("\n") ? 1 : 0)})`;
  return msg;
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
  if (!source.includes("{")) return source;
  try {
    return templateFor(source).render(context);
  } catch (e) {
    throw TemplatingError.of(identifier, cleanMessage(e, source));
  }
}
