/**
 * A content-addressed cache of generated code on disk (transpiled component files, compiled templates), so that an
 * agent does not redo the same work on every deployment.
 *
 * An entry's key is the SHA-256 of everything that determines its text ({@linkcode cacheKey}): changed input has
 * another key and can never be served an old entry. An entry is written to a temporary file that is renamed into
 * place (readers see a whole entry or none) and starts with a line holding its key and the SHA-256 of the text,
 * both checked when it is read (a damaged entry counts as missing). The cache is an optimisation only: a failure to
 * read or write it is never an error. It keeps about the newest `maxEntries` entries (by modification time): the
 * directory is pruned with the first entry an instance writes and with every {@linkcode PRUNE_EVERY}th after it.
 *
 * @example
 * ```ts
 * import { cacheDir, cacheKey, DiskCache } from "./disk_cache.ts";
 * const cache = new DiskCache(cacheDir("example"));
 * const key = cacheKey(["v1", "input"]);
 * const text = cache.get(key) ?? "computed";
 * cache.set(key, text);
 * ```
 * @module
 */
import { join } from "./path.ts";
import { sha256Hex } from "./sha256.ts";

/** batou's cache directory: `$BATOU_CACHE_DIR`, else `~/.cache/batou`; null without either. */
export function cacheRoot(): string | null {
  const explicit = Deno.env.get("BATOU_CACHE_DIR");
  if (explicit) return explicit;
  const home = Deno.env.get("HOME");
  return home ? join(home, ".cache", "batou") : null;
}

/** A cache directory `name` below {@linkcode cacheRoot}; null without one. */
export function cacheDir(name: string): string | null {
  const root = cacheRoot();
  return root === null ? null : join(root, name);
}

/** The key of an entry: the SHA-256 (hex) of the JSON of everything its text depends on. */
export function cacheKey(parts: readonly unknown[]): string {
  return sha256Hex(JSON.stringify(parts));
}

/** The first line of an entry: its key and the SHA-256 of the text that follows. */
function header(key: string, text: string): string {
  return `//batou-cache ${key} ${sha256Hex(text)}\n`;
}

/** How many writes of one {@linkcode DiskCache} instance go between two prunings (the first write prunes). */
export const PRUNE_EVERY = 64;

/** Entries in one directory (`dir` null: a cache that holds nothing). */
export class DiskCache {
  #writes = 0;

  constructor(readonly dir: string | null, readonly maxEntries: number = 256) {}

  /** The path of the entry `key`. */
  path(key: string): string {
    if (!/^[0-9a-f]{64}$/.test(key)) throw new Error(`not a cache key: ${key}`);
    return join(this.dir ?? "", `${key}.js`);
  }

  /** The text stored under `key`, or null when it is missing or damaged. */
  get(key: string): string | null {
    if (this.dir === null) return null;
    let whole: string;
    try {
      whole = Deno.readTextFileSync(this.path(key));
    } catch {
      return null;
    }
    const newline = whole.indexOf("\n");
    if (newline < 0) return null;
    const text = whole.slice(newline + 1);
    return whole.slice(0, newline + 1) === header(key, text) ? text : null;
  }

  /** Stores `text` under `key` (atomically); now and then drops the oldest entries beyond `maxEntries`. */
  set(key: string, text: string): void {
    if (this.dir === null) return;
    const path = this.path(key);
    const tmp = join(this.dir, `.${key}.${Deno.pid}.${crypto.randomUUID().slice(0, 8)}.tmp`);
    try {
      Deno.mkdirSync(this.dir, { recursive: true, mode: 0o700 });
      Deno.writeTextFileSync(tmp, header(key, text) + text, { mode: 0o600 });
      Deno.renameSync(tmp, path);
    } catch {
      try {
        Deno.removeSync(tmp);
      } catch { /* never written */ }
      return;
    }
    if (this.#writes++ % PRUNE_EVERY === 0) this.#prune();
  }

  #prune(): void {
    try {
      const entries: { path: string; mtime: number }[] = [];
      for (const e of Deno.readDirSync(this.dir!)) {
        if (!e.isFile || !e.name.endsWith(".js")) continue;
        const path = join(this.dir!, e.name);
        entries.push({ path, mtime: Deno.statSync(path).mtime?.getTime() ?? 0 });
      }
      if (entries.length <= this.maxEntries) return;
      entries.sort((a, b) => a.mtime - b.mtime);
      for (const { path } of entries.slice(0, entries.length - this.maxEntries)) Deno.removeSync(path);
    } catch { /* another process pruned at the same time, or the directory is not ours to clean */ }
  }
}
