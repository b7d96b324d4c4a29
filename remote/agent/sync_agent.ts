/**
 * The agent's side of the project sync: it compares the controller's manifest
 * with the deployment directory, writes what it receives atomically and
 * deletes what is gone.
 *
 * Methods (all paths relative to the base directory, validated with
 * {@linkcode validateSyncPath}; nothing is ever written or deleted through a
 * symlink):
 *
 * - `syncManifest({entries})` -> {@linkcode SyncPlan}: the agent-side diff.
 * - `syncPut({entries})` -> `{written}`: {@linkcode PutEntry} operations, applied in order.
 * - `syncDelete({paths})` -> `{deleted, kept}`: removes files, symlinks and empty directories.
 *
 * Hash cache: `<base>/.batou-sync-cache.json` maps a path to its SHA-256 under
 * the file's signature (core/runtime/file_signature.ts). An entry is only
 * stored when the file's ctime is older than
 * {@linkcode SyncAgentOptions.racyMarginMs} before hashing began, so any
 * later change gets a strictly later ctime. Files changed recently are simply
 * hashed again.
 *
 * @module
 */
import { dirname, join } from "../../core/runtime/path.ts";
import type { RpcHandler } from "../contract/protocol.ts";
import { lstatOrNull, naming } from "../../core/runtime/fsops.ts";
import { sha256FileHex, sha256HexAsync } from "../../core/runtime/sha256.ts";
import {
  isExcludedPath,
  type ManifestEntry,
  mapLimit,
  permissionBits,
  targetDirMode,
  TEMP_PREFIX,
  validateSyncPath,
} from "../contract/sync_manifest.ts";
import type { PutEntry, SyncPlan } from "../contract/methods.ts";
import { type FileSignature, fileSignature, RACY_MARGIN_MS, sameSignature } from "../../core/runtime/file_signature.ts";

/** Tuning of the agent's sync handlers. */
export interface SyncAgentOptions {
  /**
   * A file's hash is only cached when its ctime is at least this much older
   * than the moment hashing began. Must exceed the ctime granularity (1 s in
   * Deno) plus clock skew between the kernel's coarse clock and `Date.now()`.
   * Default 2000.
   */
  racyMarginMs?: number;
}

/** Files stat'ed, hashed or written at once. */
const PARALLEL_IO = 8;

/** Name of the hash cache in the base directory. */
export const SYNC_CACHE_FILE = ".batou-sync-cache.json";

interface CacheEntry extends FileSignature {
  sha256: string;
}

type TargetEntry = {
  path: string;
  type: "file" | "dir" | "symlink" | "other";
  mode: number;
  info: Deno.FileInfo;
  target?: string;
};

/** Creates the agent's sync methods for the base directory returned by `base()` (an absolute real path). */
export function createSyncHandlers(
  base: () => string,
  options: SyncAgentOptions = {},
): Record<"syncManifest" | "syncPut" | "syncDelete", RpcHandler> {
  const margin = options.racyMarginMs ?? RACY_MARGIN_MS;
  const chunks = new Map<string, { tmp: string; offset: number }>();
  return {
    syncManifest: (p) => planSync(base(), parseManifest(p.entries), margin),
    syncPut: async (p) => {
      const root = base();
      if (!Array.isArray(p.entries)) throw new Error("syncPut: entries must be a list");
      const entries = p.entries as PutEntry[];
      // Runs of whole files are written and fsynced in parallel, then renamed in order.
      for (let i = 0; i < entries.length;) {
        let j = i;
        while (j < entries.length && entries[j]?.op === "file") j++;
        if (j > i) await putFiles(root, entries.slice(i, j) as FileEntry[]);
        else await applyPut(root, entries[j++], chunks);
        i = j;
      }
      return { written: entries.length };
    },
    syncDelete: async (p) => {
      const root = base();
      if (!Array.isArray(p.paths)) throw new Error("syncDelete: paths must be a list");
      const paths = (p.paths as unknown[]).map(validateSyncPath);
      let deleted = 0;
      let kept = 0;
      for (const rel of paths) {
        const result = await deletePath(root, rel);
        if (result === "deleted") deleted++;
        if (result === "kept") kept++;
      }
      return { deleted, kept };
    },
  };
}

function parseManifest(raw: unknown): ManifestEntry[] {
  if (!Array.isArray(raw)) throw new Error("syncManifest: entries must be a list");
  const seen = new Set<string>();
  for (const e of raw as ManifestEntry[]) {
    validateSyncPath(e?.path);
    if (seen.has(e.path)) throw new Error(`syncManifest: duplicate path ${JSON.stringify(e.path)}`);
    seen.add(e.path);
    const ok = e.type === "file"
      ? Number.isInteger(e.mode) && Number.isInteger(e.size) && /^[0-9a-f]{64}$/.test(e.sha256)
      : e.type === "dir"
      ? Number.isInteger(e.mode)
      : e.type === "symlink" && typeof e.target === "string" && e.target !== "";
    if (!ok) throw new Error(`syncManifest: malformed entry for ${JSON.stringify(e.path)}`);
  }
  return raw as ManifestEntry[];
}

/** Walks the target tree (pre-order, sorted), skipping excluded paths and removing leftover temp files. */
async function walkTarget(root: string, dir = "", out: TargetEntry[] = []): Promise<TargetEntry[]> {
  const names: string[] = [];
  for await (const d of Deno.readDir(dir ? join(root, dir) : root)) names.push(d.name);
  names.sort();
  const rels: string[] = [];
  for (const name of names) {
    const rel = dir ? `${dir}/${name}` : name;
    if (name.startsWith(TEMP_PREFIX)) await Deno.remove(join(root, rel), { recursive: true }).catch(() => {});
    else if (!isExcludedPath(rel)) rels.push(rel);
  }
  const entries = await mapLimit(rels, PARALLEL_IO, async (rel): Promise<TargetEntry> => {
    const abs = join(root, rel);
    const info = await Deno.lstat(abs);
    const type = info.isSymlink ? "symlink" : info.isDirectory ? "dir" : info.isFile ? "file" : "other";
    const entry: TargetEntry = { path: rel, type, mode: permissionBits(info.mode), info };
    if (type === "symlink") entry.target = await Deno.readLink(abs);
    return entry;
  });
  for (const entry of entries) {
    out.push(entry);
    if (entry.type === "dir") await walkTarget(root, entry.path, out);
  }
  return out;
}

async function loadCache(root: string): Promise<Record<string, CacheEntry>> {
  try {
    const data = JSON.parse(await Deno.readTextFile(join(root, SYNC_CACHE_FILE)));
    if (data?.version === 1 && data.entries && typeof data.entries === "object") return data.entries;
  } catch { /* missing or unreadable: start empty */ }
  return {};
}

async function saveCache(root: string, entries: Record<string, CacheEntry>): Promise<void> {
  const tmp = join(root, TEMP_PREFIX + crypto.randomUUID());
  await Deno.writeTextFile(tmp, JSON.stringify({ version: 1, entries }), { mode: 0o600 });
  await Deno.rename(tmp, join(root, SYNC_CACHE_FILE));
}

/** The agent-side diff between the controller's manifest and the target tree. */
async function planSync(root: string, manifest: ManifestEntry[], margin: number): Promise<SyncPlan> {
  const target = await walkTarget(root);
  const byPath = new Map(target.map((t) => [t.path, t]));
  const oldCache = await loadCache(root);
  const cache: Record<string, CacheEntry> = {};
  const plan: SyncPlan = { need: [], modes: [], delete: [], hashed: 0 };
  const replaced = new Set<string>();

  const hashOf = async (t: TargetEntry): Promise<string> => {
    const key = fileSignature(t.info);
    const cached = oldCache[t.path];
    if (cached && sameSignature(key, cached)) {
      cache[t.path] = cached;
      return cached.sha256;
    }
    const started = Date.now();
    const abs = join(root, t.path);
    const sha256 = await sha256FileHex(abs, t.info.size);
    plan.hashed++;
    const after = fileSignature(await Deno.lstat(abs));
    if (key && sameSignature(key, after) && key.ctimeMs < started - margin) cache[t.path] = { ...key, sha256 };
    return sha256;
  };

  // Only files of equal type and size need their content compared.
  const candidates = manifest.filter((l) => {
    const t = byPath.get(l.path);
    return l.type === "file" && t?.type === "file" && t.info.size === l.size;
  });
  const hashes = new Map<string, string>();
  await mapLimit(candidates, PARALLEL_IO, async (l) => hashes.set(l.path, await hashOf(byPath.get(l.path)!)));

  for (const l of manifest) {
    const t = byPath.get(l.path);
    if (!t) {
      plan.need.push(l.path);
      continue;
    }
    if (t.type !== l.type) {
      replaced.add(l.path);
      plan.need.push(l.path);
      continue;
    }
    if (l.type === "dir") {
      if (t.mode !== targetDirMode(l.mode)) plan.need.push(l.path);
    } else if (l.type === "symlink") {
      if (t.target !== l.target) plan.need.push(l.path);
    } else if (hashes.get(l.path) !== l.sha256) {
      plan.need.push(l.path);
    } else if (t.mode !== permissionBits(l.mode)) {
      plan.modes.push(l.path);
    }
  }
  const wanted = new Set(manifest.map((l) => l.path));
  for (let i = target.length - 1; i >= 0; i--) {
    const t = target[i];
    if (!wanted.has(t.path) || replaced.has(t.path)) plan.delete.push(t.path);
  }
  // Keep still-valid entries of files not compared this time; drop what no longer exists.
  for (const t of target) {
    const old = oldCache[t.path];
    if (!cache[t.path] && old && t.type === "file" && sameSignature(fileSignature(t.info), old)) cache[t.path] = old;
  }
  if (JSON.stringify(cache) !== JSON.stringify(oldCache)) await saveCache(root, cache);
  return plan;
}

/**
 * Resolves `rel` below `root`, checking that every ancestor inside the base is
 * a real directory (not a symlink). Returns null when an ancestor is missing.
 */
async function safeParent(root: string, rel: string): Promise<string | null> {
  const parts = rel.split("/");
  let dir = root;
  for (const part of parts.slice(0, -1)) {
    dir = join(dir, part);
    let info: Deno.FileInfo;
    try {
      info = await Deno.lstat(dir);
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return null;
      throw e;
    }
    if (!info.isDirectory || info.isSymlink) {
      throw new Error(`Refusing to sync ${JSON.stringify(rel)}: ${dir} is not a directory (symlink or file)`);
    }
  }
  return dir;
}

async function requireParent(root: string, rel: string): Promise<string> {
  const dir = await safeParent(root, rel);
  if (dir === null) throw new Error(`Cannot sync ${JSON.stringify(rel)}: its parent directory does not exist`);
  return join(dir, rel.split("/").at(-1)!);
}

/**
 * The bytes of a `syncPut` entry's `data` (base64, gzip-compressed when `gzip`), decoded with web APIs: `node:zlib`
 * would initialise Deno's Node compatibility layer (~10-15 ms of CPU) in every agent that receives a changed file.
 */
async function decode(data: unknown, gzip: unknown): Promise<Uint8Array> {
  if (typeof data !== "string") throw new Error("syncPut: data must be a base64 string");
  const raw = Uint8Array.fromBase64(data);
  if (!gzip) return raw;
  const inflated = new Blob([raw]).stream().pipeThrough(new DecompressionStream("gzip"));
  return new Uint8Array(await new Response(inflated).arrayBuffer());
}

function tempBeside(abs: string): string {
  return join(dirname(abs), TEMP_PREFIX + crypto.randomUUID().slice(0, 8));
}

/** Moves a finished temp file or symlink over `abs`, removing the temp file on failure. */
async function replaceWith(tmp: string, abs: string, rel: string): Promise<void> {
  try {
    await Deno.rename(tmp, abs);
  } catch (e) {
    await Deno.remove(tmp).catch(() => {});
    if (e instanceof Deno.errors.IsADirectory || (e as { code?: string }).code === "ENOTEMPTY") {
      throw new Error(`Cannot replace directory ${JSON.stringify(rel)}: it still holds excluded entries`);
    }
    throw e;
  }
}

/** Writes `data` to `tmp` (a new file, or appended to), fsyncing it when `sync` is set. */
async function writeTemp(tmp: string, data: Uint8Array, opts: { append: boolean; sync: boolean }): Promise<void> {
  const file = await Deno.open(tmp, opts.append ? { append: true } : { createNew: true, write: true, mode: 0o600 });
  try {
    let done = 0;
    while (done < data.length) done += await file.write(data.subarray(done));
    if (opts.sync) await file.sync();
  } finally {
    file.close();
  }
}

function checkHash(rel: string, expected: string, actual: string): void {
  if (actual !== expected) {
    throw new Error(
      `Content of ${JSON.stringify(rel)} changed during sync (expected sha256 ${expected}, got ${actual})`,
    );
  }
}

type FileEntry = Extract<PutEntry, { op: "file" }>;
type Prepared = { tmp: string; abs: string; rel: string };

/** Validates an entry's path and mode; returns the relative and the absolute path. */
async function locate(root: string, entry: PutEntry): Promise<{ rel: string; abs: string }> {
  const rel = validateSyncPath(entry?.path);
  if ("mode" in entry && !(Number.isInteger(entry.mode) && entry.mode >= 0 && entry.mode <= 0o7777)) {
    throw new Error(`syncPut: invalid mode for ${JSON.stringify(rel)}`);
  }
  return { rel, abs: await requireParent(root, rel) };
}

/** Checks a whole file's content, writes, fsyncs and chmods its temp file; returns where it goes. */
async function prepareFile(root: string, entry: FileEntry): Promise<Prepared> {
  const { rel, abs } = await locate(root, entry);
  const data = await decode(entry.data, entry.gzip);
  checkHash(rel, entry.sha256, await sha256HexAsync(data));
  const tmp = tempBeside(abs);
  try {
    await writeTemp(tmp, data, { append: false, sync: true });
    await Deno.chmod(tmp, permissionBits(entry.mode));
  } catch (e) {
    await Deno.remove(tmp).catch(() => {});
    throw naming(e, `Cannot sync ${abs}`);
  }
  return { tmp, abs, rel };
}

/** Prepares whole files in parallel, then renames them into place in order. */
async function putFiles(root: string, entries: FileEntry[]): Promise<void> {
  const started: string[] = [];
  let ready: Prepared[];
  try {
    ready = await mapLimit(entries, PARALLEL_IO, async (e) => {
      const p = await prepareFile(root, e);
      started.push(p.tmp);
      return p;
    });
  } catch (e) {
    await Promise.all(started.map((tmp) => Deno.remove(tmp).catch(() => {})));
    throw e;
  }
  for (let i = 0; i < ready.length; i++) {
    try {
      await replaceWith(ready[i].tmp, ready[i].abs, ready[i].rel);
    } catch (e) {
      await Promise.all(ready.slice(i + 1).map((p) => Deno.remove(p.tmp).catch(() => {})));
      throw e;
    }
  }
}

async function applyPut(
  root: string,
  entry: PutEntry,
  chunks: Map<string, { tmp: string; offset: number }>,
): Promise<void> {
  const { rel, abs } = await locate(root, entry);
  switch (entry.op) {
    case "dir": {
      const info = await lstatOrNull(abs);
      if (!info) await Deno.mkdir(abs);
      else if (!info.isDirectory || info.isSymlink) {
        throw new Error(`Cannot create directory ${JSON.stringify(rel)}: something else is in the way`);
      }
      await Deno.chmod(abs, targetDirMode(entry.mode));
      return;
    }
    case "symlink": {
      if (typeof entry.target !== "string" || !entry.target) throw new Error("syncPut: symlink target missing");
      const tmp = tempBeside(abs);
      await Deno.symlink(entry.target, tmp);
      await replaceWith(tmp, abs, rel);
      return;
    }
    case "file":
      return await putFiles(root, [entry]);
    case "chunk": {
      const data = await decode(entry.data, entry.gzip);
      let state = chunks.get(rel);
      try {
        if (entry.offset === 0) {
          if (state) await Deno.remove(state.tmp).catch(() => {});
          state = { tmp: tempBeside(abs), offset: 0 };
          chunks.set(rel, state);
          await writeTemp(state.tmp, data, { append: false, sync: entry.last });
        } else if (!state || state.offset !== entry.offset) {
          throw new Error(`syncPut: chunk of ${JSON.stringify(rel)} at offset ${entry.offset} is out of order`);
        } else {
          await writeTemp(state.tmp, data, { append: true, sync: entry.last });
        }
      } catch (e) {
        // A failed chunk ends this file's transfer: its temp file goes now, not only with the next sync.
        if (state) await Deno.remove(state.tmp).catch(() => {});
        chunks.delete(rel);
        throw naming(e, `Cannot sync ${abs}`);
      }
      state.offset += data.length;
      if (entry.last) {
        chunks.delete(rel);
        try {
          checkHash(rel, entry.sha256, await sha256FileHex(state.tmp));
          await Deno.chmod(state.tmp, permissionBits(entry.mode));
        } catch (e) {
          await Deno.remove(state.tmp).catch(() => {});
          throw e;
        }
        await replaceWith(state.tmp, abs, rel);
      }
      return;
    }
    case "mode": {
      const info = await Deno.lstat(abs);
      if (!info.isFile) throw new Error(`Cannot change the mode of ${JSON.stringify(rel)}: not a regular file`);
      await Deno.chmod(abs, permissionBits(entry.mode));
      return;
    }
    default:
      throw new Error(`syncPut: unknown operation ${JSON.stringify((entry as { op?: unknown }).op)}`);
  }
}

async function deletePath(root: string, rel: string): Promise<"deleted" | "kept" | "missing"> {
  const dir = await safeParent(root, rel);
  if (dir === null) return "missing";
  const abs = join(dir, rel.split("/").at(-1)!);
  const info = await lstatOrNull(abs);
  if (!info) return "missing";
  try {
    await Deno.remove(abs);
  } catch (e) {
    // A directory that still holds excluded entries (work/, .batou*, ...) stays.
    if (info.isDirectory && (e as { code?: string }).code === "ENOTEMPTY") return "kept";
    throw e;
  }
  return "deleted";
}
