/**
 * What earlier deploys found in the files they checked: per path, the file's signature then (size, mtime, ctime,
 * inode, device) and a fingerprint of the content it held. A content check whose file still has that signature and
 * whose wanted bytes have that fingerprint need not read the file: a no-op of 8,000 files otherwise opens, reads and
 * closes every one of them, three of the four system calls per file (issue 17).
 *
 * A signature proves the content (file_signature.ts): an entry is only made when the file's ctime is at least
 * {@linkcode RACY_MARGIN_MS} older than the moment the read began. The signature is taken from the open file after the
 * read (`fstat`), so it belongs to the bytes read. A file changed recently is just read again, and a miss costs one
 * `fstat` more than a plain read.
 *
 * Paths are stored as their 128-bit hash ({@linkcode cacheKey}), never as text: a managed file's name may hold a
 * secret. Two paths of one hash could only share an entry for the same inode in the same state (a hard link), whose
 * content is the same.
 *
 * The fingerprint (two 32-bit lanes and the length) is not cryptographic: it tells apart the bytes a deploy wants now
 * from the bytes the file held when it was last checked, both made by the project. Writing the file changes its
 * signature, so nobody can make a changed file pass by choosing its bytes. The memo lives in the account's cache
 * ({@linkcode cacheDir}), one per deployment base directory: whoever can write it owns the account anyway, and whoever
 * can read it can read the files themselves (the fingerprint of a secret file's bytes tells no more than the file).
 * It is an optimisation only; a memo that cannot be read or written is as if empty.
 *
 * @example
 * ```ts
 * import { contentMemoFor, saveContentMemos } from "./content_memo.ts";
 * const memo = contentMemoFor("/srv/app/work");
 * const wanted = new TextEncoder().encode("hello\n");
 * const info = Deno.lstatSync("/srv/app/work/app/hello.txt");
 * if (!memo.holds("/srv/app/work/app/hello.txt", info, wanted)) {
 *   // read and compare; when equal: memo.remember(path, fstatOfTheReadFile, wanted, readStartedAt)
 * }
 * saveContentMemos();
 * ```
 * @module
 */
import { cacheDir, type CacheKey, cacheKey, DiskCache } from "./disk_cache.ts";
import { fmix32, hex8 } from "./hash32.ts";
import { type FileSignature, fileSignature, hasSignature, RACY_MARGIN_MS } from "./file_signature.ts";

/** The memo stays at most this many entries above the ones a process confirmed (old paths are dropped beyond it). */
const SPARE_ENTRIES = 1000;

/**
 * A 64-bit fingerprint of `bytes` and their length (16 hex digits and the length): an FNV-1a lane and a multiply-xor
 * lane with another prime, each mixed at the end. About 1.6 µs per KiB here, against ~15 µs to read a file.
 */
export function fingerprint(bytes: Uint8Array): string {
  let a = 0x811c9dc5, b = 0x9747b28c;
  for (let i = 0; i < bytes.length; i++) {
    const u = bytes[i];
    a = Math.imul(a ^ u, 16777619);
    b = Math.imul(b ^ u, 0x2545f491);
  }
  return `${hex8(fmix32(a))}${hex8(fmix32(b ^ bytes.length))}:${bytes.length}`;
}

/** The name of `path` in the memo: its 128-bit hash (see the module doc). */
function pathKey(path: string): string {
  return cacheKey([path]).id;
}

/** One entry: the file's signature when it held the bytes of the fingerprint. */
interface Entry extends FileSignature {
  fingerprint: string;
}

/** An entry as {@linkcode ContentMemo.save} writes it: the path's key, the signature's five numbers, the fingerprint. */
type StoredEntry = [key: string, size: number, mtimeMs: number, ctimeMs: number, ino: number, dev: number, fp: string];

function isStoredEntry(e: unknown): e is StoredEntry {
  return Array.isArray(e) && e.length === 7 && typeof e[0] === "string" && typeof e[6] === "string" &&
    e.slice(1, 6).every(Number.isFinite);
}

/** The memo of one deployment base directory (see the module doc). */
export class ContentMemo {
  #entries: Map<string, Entry> | null = null;
  /** The keys of the paths confirmed (held or remembered) by this process. */
  #confirmed = new Set<string>();
  #dirty = false;

  constructor(readonly cache: DiskCache, readonly key: CacheKey) {}

  /** The entries, read when first needed. */
  #map(): Map<string, Entry> {
    if (this.#entries) return this.#entries;
    this.#entries = new Map();
    const text = this.cache.get(this.key);
    if (text === null) return this.#entries;
    try {
      const data = JSON.parse(text);
      if (Array.isArray(data?.entries)) {
        for (const e of data.entries) {
          if (!isStoredEntry(e)) continue;
          const [key, size, mtimeMs, ctimeMs, ino, dev, fingerprint] = e;
          this.#entries.set(key, { size, mtimeMs, ctimeMs, ino, dev, fingerprint });
        }
      }
    } catch { /* damaged: as if empty */ }
    return this.#entries;
  }

  /** Whether the file at `path`, of which `info` is a fresh (l)stat, holds `bytes` as far as the memo knows. */
  holds(path: string, info: Deno.FileInfo, bytes: Uint8Array): boolean {
    const key = pathKey(path);
    const e = this.#map().get(key);
    if (!e || e.size !== bytes.length || !hasSignature(info, e)) return false;
    if (e.fingerprint !== fingerprint(bytes)) return false;
    this.#confirmed.add(key);
    return true;
  }

  /**
   * Notes that the file at `path` held `bytes` when read, `info` being the `fstat` of the open file after the read
   * and `readStartedMs` the `Date.now()` before it was opened. Nothing is noted for a file changed too recently.
   */
  remember(path: string, info: Deno.FileInfo, bytes: Uint8Array, readStartedMs: number): void {
    const s = fileSignature(info);
    if (!s || s.size !== bytes.length || s.ctimeMs > readStartedMs - RACY_MARGIN_MS) return;
    const key = pathKey(path);
    this.#map().set(key, { ...s, fingerprint: fingerprint(bytes) });
    this.#confirmed.add(key);
    this.#dirty = true;
  }

  /** Writes the memo when this process noted anything new (atomically, through the cache). */
  save(): void {
    if (!this.#dirty || !this.#entries) return;
    this.#dirty = false;
    const entries: StoredEntry[] = [];
    // Entries of paths this process did not check are kept while there are not too many of them.
    const keepOthers = this.#entries.size <= this.#confirmed.size + SPARE_ENTRIES;
    for (const [key, e] of this.#entries) {
      if (!keepOthers && !this.#confirmed.has(key)) continue;
      entries.push([key, e.size, e.mtimeMs, e.ctimeMs, e.ino, e.dev, e.fingerprint]);
    }
    this.cache.set(this.key, JSON.stringify({ entries }));
  }
}

/** The memos of this process, by base directory. */
const memos = new Map<string, ContentMemo>();
let memoCache: DiskCache | null = null;

/** The memo of the deployment base directory `base` (one per process). */
export function contentMemoFor(base: string): ContentMemo {
  let memo = memos.get(base);
  if (!memo) {
    memoCache ??= new DiskCache(cacheDir("verified"), 64);
    memo = new ContentMemo(memoCache, cacheKey(["content-memo", 2, base]));
    memos.set(base, memo);
  }
  return memo;
}

/** Writes every memo that has news (after a root's deploy). */
export function saveContentMemos(): void {
  for (const memo of memos.values()) memo.save();
}
