/**
 * Project sync from the controller to the agent over the JSON-RPC protocol —
 * no rsync or git on the target.
 *
 * 1. The controller walks the project into a manifest (path, type, mode, size,
 *    SHA-256 or symlink target), skipping `.git`, `.hg`, `work`, `.batou*`,
 *    `.appenv`, `.vagrant`, `.kitchen` at any depth and the secrets files
 *    (see `sync_manifest.ts`).
 * 2. One round trip, `syncManifest`: the agent compares it with the
 *    deployment directory (hashing only same-size files, with a ctime-keyed
 *    cache, see `sync_agent.ts`) and answers what it needs and what to delete.
 * 3. `syncDelete` removes what is gone (children first; type changes too). The
 *    target never loses excluded entries: the agent does not even list them and
 *    rejects such paths, and the controller drops paths its own `exclude` skips.
 * 4. `syncPut` batches of at most ~4 MiB: directories, symlinks, whole files
 *    or chunks of big ones, gzip-compressed when that helps. Every file is
 *    written to a temp file beside its target, checked against its SHA-256,
 *    fsynced and renamed over the target, so a lost connection never leaves a
 *    partial file; temp files of an interrupted run are removed by the next one,
 *    which converges.
 *
 * @module
 */
import { join } from "../../core/runtime/path.ts";
import { sha256FileHex } from "../../core/runtime/sha256.ts";
import type { RpcPeer } from "../contract/protocol.ts";
import {
  isExcludedName,
  isSecretPath,
  type ManifestEntry,
  mapLimit,
  permissionBits,
} from "../contract/sync_manifest.ts";
import { callAgent, type PutEntry } from "../contract/methods.ts";

export { isExcludedPath, type ManifestEntry } from "../contract/sync_manifest.ts";
export type { PutEntry, SyncPlan } from "../contract/methods.ts";

/** What one sync did. Files count regular files and symlinks; directories are not counted. */
export interface SyncStats {
  /** Files and symlinks in the local manifest. */
  files: number;
  /** Files and symlinks written on the target. */
  sent: number;
  /** Content bytes put on the wire (after compression, before base64). */
  bytesSent: number;
  /** Paths removed on the target. */
  deleted: number;
  /** Files and symlinks that were already up to date (a mode fix alone counts as unchanged). */
  unchanged: number;
  /** Files the agent had to hash because its cache could not vouch for them. */
  hashed: number;
}

/** Options of {@linkcode syncProject} and {@linkcode buildManifest}. */
export interface SyncOptions {
  /** Extra exclusions (relative `/` paths); an excluded directory is skipped with all it holds. */
  exclude?: (relPath: string) => boolean;
  /** A manifest built before with {@linkcode buildManifest} (to sync several hosts without re-hashing). */
  manifest?: ManifestEntry[];
  /** Upper bound of one `syncPut` message's payload (default 4 MiB; smaller values are for tests). */
  maxMessageBytes?: number;
  /** `syncPut` calls in flight at once (default 2). */
  window?: number;
}

/** Files read, hashed or stat'ed at once. */
const PARALLEL_IO = 8;
const DEFAULT_MESSAGE_BYTES = 4 * 1024 * 1024;
/** Estimated JSON bytes of one put entry besides its data and path, and of the message envelope. */
const ENTRY_OVERHEAD = 256;
const ENVELOPE = 128;
const NO_GZIP = /\.(gz|tgz|bz2|xz|zst|zip|jar|whl|egg|7z|png|jpe?g|gif|webp|woff2?|mp[34]|mkv|pdf)$/i;

/**
 * Walks `localDir` into a manifest, sorted, parents before children. Symlinks
 * are recorded, not followed; sockets, fifos and devices are skipped.
 */
export async function buildManifest(
  localDir: string,
  opts: Pick<SyncOptions, "exclude"> = {},
): Promise<ManifestEntry[]> {
  const out: ManifestEntry[] = [];
  const walk = async (dir: string): Promise<void> => {
    const names: string[] = [];
    for await (const d of Deno.readDir(dir ? join(localDir, dir) : localDir)) names.push(d.name);
    names.sort();
    const rels = names.map((name) => dir ? `${dir}/${name}` : name)
      .filter((rel) => !isExcludedName(rel.split("/").at(-1)!) && !isSecretPath(rel) && !opts.exclude?.(rel));
    const entries = await mapLimit(rels, PARALLEL_IO, async (rel): Promise<ManifestEntry | null> => {
      const abs = join(localDir, rel);
      const info = await Deno.lstat(abs);
      const mode = permissionBits(info.mode);
      if (info.isSymlink) return { path: rel, type: "symlink", target: await Deno.readLink(abs) };
      if (info.isDirectory) return { path: rel, type: "dir", mode };
      if (!info.isFile) return null;
      return { path: rel, type: "file", mode, size: info.size, sha256: await sha256FileHex(abs, info.size) };
    });
    for (const entry of entries) {
      if (!entry) continue;
      out.push(entry);
      if (entry.type === "dir") await walk(entry.path);
    }
  };
  await walk("");
  return out;
}

/** node:zlib's `gzipSync`, loaded when the first file is sent (the agent, which imports this module, never sends). */
type Gzip = (data: Uint8Array) => Uint8Array;

async function loadGzip(): Promise<Gzip> {
  const { gzipSync } = await import("node:zlib");
  return (data) => gzipSync(data);
}

function encode(raw: Uint8Array, path: string, gzip: Gzip): { data: string; gzip: boolean; bytes: number } {
  if (raw.length >= 512 && !NO_GZIP.test(path)) {
    const packed = gzip(raw);
    if (packed.length < raw.length * 0.9) return { data: packed.toBase64(), gzip: true, bytes: packed.length };
  }
  return { data: raw.toBase64(), gzip: false, bytes: raw.length };
}

async function readFull(file: Deno.FsFile, buf: Uint8Array): Promise<number> {
  let n = 0;
  while (n < buf.length) {
    const r = await file.read(buf.subarray(n));
    if (r === null) break;
    n += r;
  }
  return n;
}

/** Sends `syncPut` batches, keeping up to `window` calls in flight; the first failure is thrown. */
class PutSender {
  #batch: PutEntry[] = [];
  #size = 0;
  #inflight: Promise<Error | null>[] = [];

  constructor(readonly peer: RpcPeer, readonly limit: number, readonly window: number) {}

  /** Queues `entry`, whose data (or symlink target) is `size` bytes of JSON. */
  async add(entry: PutEntry, size = 0): Promise<void> {
    const cost = size + entry.path.length + ENTRY_OVERHEAD;
    if (this.#batch.length && ENVELOPE + this.#size + cost > this.limit) await this.flush();
    this.#batch.push(entry);
    this.#size += cost;
  }

  async flush(): Promise<void> {
    if (this.#batch.length) {
      const call = callAgent(this.peer, "syncPut", { entries: this.#batch });
      this.#inflight.push(call.then(() => null, (e: Error) => e));
      this.#batch = [];
      this.#size = 0;
    }
    while (this.#inflight.length >= this.window) await this.#settle();
  }

  async finish(): Promise<void> {
    await this.flush();
    while (this.#inflight.length) await this.#settle();
  }

  async #settle(): Promise<void> {
    const error = await this.#inflight.shift();
    if (error) {
      await Promise.all(this.#inflight);
      this.#inflight = [];
      throw error;
    }
  }
}

/**
 * Makes the agent's deployment directory (its `ensureBase`) hold exactly the
 * project in `localDir`, minus excluded paths, and returns what it did.
 * Re-running after any failure converges.
 */
export async function syncProject(peer: RpcPeer, localDir: string, opts: SyncOptions = {}): Promise<SyncStats> {
  const manifest = opts.manifest ?? await buildManifest(localDir, opts);
  const plan = await callAgent(peer, "syncManifest", { entries: manifest });
  const stats: SyncStats = {
    files: manifest.filter((e) => e.type !== "dir").length,
    sent: 0,
    bytesSent: 0,
    deleted: 0,
    unchanged: 0,
    hashed: plan.hashed,
  };

  const keep = (rel: string): boolean => {
    const parts = rel.split("/");
    return parts.some((_, i) => opts.exclude?.(parts.slice(0, i + 1).join("/")) ?? false);
  };
  const doomed = plan.delete.filter((rel) => !keep(rel));
  for (let i = 0; i < doomed.length; i += 1000) {
    const r = await callAgent(peer, "syncDelete", { paths: doomed.slice(i, i + 1000) });
    stats.deleted += r.deleted;
  }

  const limit = opts.maxMessageBytes ?? DEFAULT_MESSAGE_BYTES;
  const sender = new PutSender(peer, limit, Math.max(1, opts.window ?? 2));
  const need = new Set(plan.need);
  const modes = new Set(plan.modes);
  let gzip: Gzip | null = null;
  for (const e of manifest) {
    if (e.type === "dir") {
      if (need.has(e.path)) await sender.add({ op: "dir", path: e.path, mode: e.mode });
      continue;
    }
    if (!need.has(e.path)) {
      stats.unchanged++;
      if (modes.has(e.path) && e.type === "file") {
        await sender.add({ op: "mode", path: e.path, mode: e.mode });
      }
      continue;
    }
    stats.sent++;
    if (e.type === "symlink") {
      await sender.add({ op: "symlink", path: e.path, target: e.target }, e.target.length);
      continue;
    }
    const abs = join(localDir, e.path);
    gzip ??= await loadGzip();
    // Raw bytes per message such that base64, entry and envelope stay within the limit.
    const chunkSize = Math.max(3, Math.floor((limit - ENVELOPE - ENTRY_OVERHEAD - e.path.length) / 4) * 3);
    if (e.size <= chunkSize) {
      const { data, gzip: packed, bytes } = encode(await Deno.readFile(abs), e.path, gzip);
      stats.bytesSent += bytes;
      await sender.add(
        { op: "file", path: e.path, mode: e.mode, sha256: e.sha256, data, gzip: packed },
        data.length,
      );
      continue;
    }
    const file = await Deno.open(abs, { read: true });
    try {
      const buf = new Uint8Array(chunkSize);
      for (let offset = 0;;) {
        const n = await readFull(file, buf);
        const last = n < chunkSize || offset + n >= e.size;
        const { data, gzip: packed, bytes } = encode(buf.slice(0, n), e.path, gzip);
        stats.bytesSent += bytes;
        const entry: PutEntry = {
          op: "chunk",
          path: e.path,
          mode: e.mode,
          sha256: e.sha256,
          offset,
          last,
          data,
          gzip: packed,
        };
        await sender.add(entry, data.length);
        offset += n;
        if (last) break;
      }
    } finally {
      file.close();
    }
  }
  await sender.finish();
  return stats;
}
