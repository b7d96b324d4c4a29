/**
 * Component files transpiled with sucrase (types stripped, imports turned into `require` calls), through a cache of
 * the output on disk. An agent loads the same unchanged component files on every deployment; with the cache it
 * neither transpiles them again nor (in the agent bundle) evaluates sucrase at all.
 *
 * The cache is keyed by content: an entry's name is the SHA-256 of everything that determines the output (the
 * source text, the file's path, the transforms, sucrase's version and this cache's format), so a changed source,
 * another path or another sucrase has another key and can never be served an old output. Entries are written to a
 * temporary file that is renamed into place (readers see a whole entry or none), and an entry carries its key and
 * the SHA-256 of its code, which are checked when it is read (a damaged entry counts as missing). The cache is an
 * optimisation only: any failure to read or write it means transpiling as without it. It keeps the
 * {@linkcode CACHE_ENTRIES} newest entries.
 *
 * @example
 * ```ts
 * import { transpile } from "./transpile.ts";
 * transpile('import { Component } from "batou";\nexport class A extends Component {}\n', "/p/components/a/component.ts");
 * ```
 * @module
 */
import { createHash } from "node:crypto";
import { join } from "node:path";
import { sucrase } from "./lazy.ts";

/** The sucrase version the cache keys name (tests check that it is the sucrase in use). */
export const SUCRASE_VERSION = "3.35.1";

/** Bumped whenever the entry format or the transpile options change. */
const FORMAT = 1;

/** How many entries the cache keeps (the oldest by modification time go first). */
export const CACHE_ENTRIES = 256;

/** The transpile cache directory: `$BATOU_CACHE_DIR/transpiled`, else `~/.cache/batou/transpiled`; null without either. */
export function transpileCacheDir(): string | null {
  const explicit = Deno.env.get("BATOU_CACHE_DIR");
  if (explicit) return join(explicit, "transpiled");
  const home = Deno.env.get("HOME");
  return home ? join(home, ".cache", "batou", "transpiled") : null;
}

/** The sucrase transforms for a file: TypeScript files lose their types; all get `require` for imports. */
export function transformsFor(filePath: string): ("typescript" | "imports")[] {
  return filePath.endsWith(".ts") ? ["typescript", "imports"] : ["imports"];
}

function sha256(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

/** The cache key of transpiling `source` found at `filePath`. */
export function transpileKey(source: string, filePath: string): string {
  return sha256(JSON.stringify([FORMAT, SUCRASE_VERSION, transformsFor(filePath), filePath, source]));
}

/** The first line of an entry: its key and the SHA-256 of the code that follows. */
function header(key: string, code: string): string {
  return `//batou-transpiled ${key} ${sha256(code)}\n`;
}

/** The cached code of `key` in `dir`, or null when it is missing or damaged. */
function readEntry(dir: string, key: string): string | null {
  let text: string;
  try {
    text = Deno.readTextFileSync(join(dir, `${key}.js`));
  } catch {
    return null;
  }
  const newline = text.indexOf("\n");
  if (newline < 0) return null;
  const code = text.slice(newline + 1);
  return text.slice(0, newline + 1) === header(key, code) ? code : null;
}

/** Stores `code` under `key` in `dir` (atomically), then drops the oldest entries beyond {@linkcode CACHE_ENTRIES}. */
function writeEntry(dir: string, key: string, code: string): void {
  const tmp = join(dir, `.${key}.${Deno.pid}.${crypto.randomUUID().slice(0, 8)}.tmp`);
  try {
    Deno.mkdirSync(dir, { recursive: true, mode: 0o700 });
    Deno.writeTextFileSync(tmp, header(key, code) + code, { mode: 0o600 });
    Deno.renameSync(tmp, join(dir, `${key}.js`));
  } catch {
    try {
      Deno.removeSync(tmp);
    } catch { /* never written */ }
    return;
  }
  prune(dir);
}

function prune(dir: string): void {
  try {
    const entries: { path: string; mtime: number }[] = [];
    for (const e of Deno.readDirSync(dir)) {
      if (!e.isFile || !e.name.endsWith(".js")) continue;
      const path = join(dir, e.name);
      entries.push({ path, mtime: Deno.statSync(path).mtime?.getTime() ?? 0 });
    }
    if (entries.length <= CACHE_ENTRIES) return;
    entries.sort((a, b) => a.mtime - b.mtime);
    for (const { path } of entries.slice(0, entries.length - CACHE_ENTRIES)) Deno.removeSync(path);
  } catch { /* another process pruned at the same time, or the directory is not ours to clean */ }
}

/**
 * The JavaScript of the component file `filePath` with content `source`: from the cache in `cacheDir` when it has
 * it, else transpiled by sucrase (and stored). `cacheDir` null: no cache. Throws sucrase's error for a source it
 * cannot parse (failures are not cached).
 */
export function transpile(source: string, filePath: string, cacheDir: string | null = transpileCacheDir()): string {
  const key = cacheDir === null ? "" : transpileKey(source, filePath);
  if (cacheDir !== null) {
    const cached = readEntry(cacheDir, key);
    if (cached !== null) return cached;
  }
  const code = sucrase().transform(source, {
    transforms: transformsFor(filePath),
    disableESTransforms: true,
    filePath,
  }).code;
  if (cacheDir !== null) writeEntry(cacheDir, key, code);
  return code;
}
