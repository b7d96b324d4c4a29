/**
 * The text of content sources (`File(..., { source: "file.j2" })`), read once per process while the file stays the
 * same: a component that adds thousands of files from one template would otherwise read and decode it for every
 * file (issue 17, W2 no-op of 8,000 files). A cached text is used only while the file's inode, size, mtime and ctime
 * are those it was read with (one `stat` instead of a read and a decode).
 *
 * Timestamps have a granularity (Deno reports milliseconds), so a file changed twice within it could look the same.
 * As git does with "racily clean" index entries, a file whose ctime is less than {@linkcode SETTLED_MS} before the
 * read is trusted only for {@linkcode RECHECK_MS}, then read again: any later change gives a settled file a ctime
 * that differs from the remembered one.
 *
 * @module
 */
import { decodeText } from "../core/formats/textcodec.ts";

interface CachedSource {
  signature: string;
  encoding: string;
  text: string;
  /** When the signature was last found unchanged (ms since the epoch). */
  checkedAt: number;
  /** Whether the file had settled when it was read (else it is trusted only within {@linkcode RECHECK_MS}). */
  settled: boolean;
}

/** A file changed at least this long (ms) before it is read is cached. */
export const SETTLED_MS = 2000;

/**
 * A source checked this recently (ms) is used without another `stat`: the configure of thousands of files from one
 * template costs one `stat`, not one per file. A change within that time is seen at the next check, as it would
 * be by a read a moment later.
 */
export const RECHECK_MS = 250;

/** At most this many sources are remembered (the oldest is dropped first). */
const MAX_ENTRIES = 256;

const cache = new Map<string, CachedSource>();
const stats = { hits: 0, reads: 0 };

function signatureOf(info: Deno.FileInfo): string {
  return `${info.ino}:${info.size}:${info.mtime?.getTime()}:${info.ctime?.getTime()}`;
}

/**
 * The text of the file at `path` decoded with `encoding` (as {@linkcode decodeText}). Throws what `Deno.statSync`
 * or `Deno.readFileSync` throw (e.g. `Deno.errors.NotFound`) and what decoding throws. `now` (ms since the epoch)
 * is the time of the read.
 */
export function readSourceText(path: string, encoding: string, now: number = Date.now()): string {
  const known = cache.get(path);
  if (known && known.encoding === encoding && now >= known.checkedAt && now - known.checkedAt < RECHECK_MS) {
    stats.hits++;
    return known.text;
  }
  const info = Deno.statSync(path);
  const signature = signatureOf(info);
  if (known && known.settled && known.signature === signature && known.encoding === encoding) {
    known.checkedAt = now;
    stats.hits++;
    return known.text;
  }
  stats.reads++;
  const text = decodeText(Deno.readFileSync(path), encoding);
  const changed = Math.max(info.ctime?.getTime() ?? Infinity, info.mtime?.getTime() ?? Infinity);
  cache.delete(path);
  // Not remembered when it changed while it was read.
  if (signatureOf(Deno.statSync(path)) !== signature) return text;
  cache.set(path, { signature, encoding, text, checkedAt: now, settled: changed <= now - SETTLED_MS });
  if (cache.size > MAX_ENTRIES) cache.delete(cache.keys().next().value!);
  return text;
}

/** How many source texts were served from the cache (`hits`) and read from disk (`reads`) in this process. */
export function sourceCacheStats(): { hits: number; reads: number } {
  return { ...stats };
}

/** Forgets every cached source. */
export function clearSourceCache(): void {
  cache.clear();
}
