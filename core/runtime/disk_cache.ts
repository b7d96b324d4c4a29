/**
 * A content-addressed cache of generated code on disk (transpiled component files, compiled templates), so that an
 * agent does not redo the same work on every deployment.
 *
 * An entry is named by a 128-bit hash of everything that determines its text ({@linkcode cacheKey}), and holds that
 * input itself: a read compares it with the input asked for, so changed input can never be served an old entry (not
 * even on a collision of the name). An entry is written to a temporary file that is renamed into place (readers see
 * a whole entry or none) and starts with a line holding its name and a checksum of the text, checked when it is
 * read (a damaged entry counts as missing; the checksum is against damage, not an adversary: whoever can write the
 * cache owns the account). Neither needs SHA-256, which costs a fresh agent ~5-10 ms for a few KiB in cold
 * JavaScript. The cache is an optimisation only: a failure to read or write it is never an error. It keeps about the
 * newest `maxEntries` entries (by modification time): the directory is pruned with the first entry an instance writes
 * and with every {@linkcode PRUNE_EVERY}th after it.
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
import { fmix32, hex8 } from "./hash32.ts";

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

/** What an entry is stored under: its name (`id`, 32 hex digits) and the input it was made from (JSON). */
export interface CacheKey {
  readonly id: string;
  readonly input: string;
}

/** The key of an entry made from `parts` (everything its text depends on, as JSON). */
export function cacheKey(parts: readonly unknown[]): CacheKey {
  const input = JSON.stringify(parts);
  return { id: hash128(input), input };
}

/** Four 32-bit FNV-1a lanes (other offsets, each mixed at the end) over the UTF-16 code units: 32 hex digits. */
function hash128(text: string): string {
  let a = 0x811c9dc5, b = 0x050c5d1f, c = 0x1b873593, d = 0x6b43a9b5;
  for (let i = 0; i < text.length; i++) {
    const u = text.charCodeAt(i);
    a = Math.imul(a ^ u, 16777619);
    b = Math.imul(b ^ u, 16777619);
    c = Math.imul(c ^ u, 16777619);
    d = Math.imul(d ^ u, 16777619);
  }
  return [a ^ text.length, b, c, d].map((h) => hex8(fmix32(h))).join("");
}

/** A checksum of `text` (against damage): its length and an FNV-1a of its UTF-16 code units. */
function checksum(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619);
  return `${text.length}:${hex8(fmix32(h))}`;
}

/** The first two lines of an entry: its name and the text's checksum, then the input (JSON has no raw newline). */
function header(key: CacheKey, text: string): string {
  return `//batou-cache ${key.id} ${checksum(text)}\n${key.input}\n`;
}

/** How many writes of one {@linkcode DiskCache} instance go between two prunings (the first write prunes). */
export const PRUNE_EVERY = 64;

/** Entries in one directory (`dir` null: a cache that holds nothing). */
export class DiskCache {
  #writes = 0;

  constructor(readonly dir: string | null, readonly maxEntries: number = 256) {}

  /** The path of the entry `key`. */
  path(key: CacheKey): string {
    if (!/^[0-9a-f]{32}$/.test(key.id)) throw new Error(`not a cache key: ${key.id}`);
    return join(this.dir ?? "", `${key.id}.js`);
  }

  /** The text stored under `key`, or null when it is missing, damaged, or made from other input. */
  get(key: CacheKey): string | null {
    if (this.dir === null) return null;
    let whole: string;
    try {
      whole = Deno.readTextFileSync(this.path(key));
    } catch {
      return null;
    }
    const first = whole.indexOf("\n");
    const second = first < 0 ? -1 : whole.indexOf("\n", first + 1);
    if (second < 0) return null;
    const text = whole.slice(second + 1);
    return whole.slice(0, second + 1) === header(key, text) ? text : null;
  }

  /** Stores `text` under `key` (atomically); now and then drops the oldest entries beyond `maxEntries`. */
  set(key: CacheKey, text: string): void {
    if (this.dir === null) return;
    const path = this.path(key);
    const tmp = join(this.dir, `.${key.id}.${Deno.pid}.${crypto.randomUUID().slice(0, 8)}.tmp`);
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
