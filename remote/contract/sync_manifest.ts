/**
 * What both sides of the project sync agree on: the manifest entry shape, which
 * paths are never synced, how paths from the other side are validated, and the
 * content hash.
 *
 * @module
 */
import { sha256Hex } from "../../core/runtime/sha256.ts";

/** One entry of a project manifest; `path` is relative, `/`-separated, never `.` or `..`. */
export type ManifestEntry =
  | { path: string; type: "file"; mode: number; size: number; sha256: string }
  | { path: string; type: "dir"; mode: number }
  | { path: string; type: "symlink"; target: string };

/** Basenames skipped at any depth (as batou's rsync filter), besides every name starting with `.batou`. */
export const EXCLUDED_NAMES: ReadonlySet<string> = new Set([".git", ".hg", "work", ".appenv", ".vagrant", ".kitchen"]);

/** Temporary files of interrupted writes start with this; the agent removes them when it next walks the tree. */
export const TEMP_PREFIX = ".batou-sync-tmp-";

/** True for a basename that is never synced (`.git`, `work`, `.batou*`, ...). */
export function isExcludedName(name: string): boolean {
  return EXCLUDED_NAMES.has(name) || name.startsWith(".batou");
}

/**
 * True for secrets files, which the controller decrypts and sends with `configure`
 * instead: `environments/<env>/secrets.cfg`, `secrets.cfg.*`, `secret-*`, and the
 * legacy top-level `secrets/` folder. (`age_keys.txt` holds public keys and is synced.)
 */
export function isSecretPath(relPath: string): boolean {
  const parts = relPath.split("/");
  if (parts[0] === "secrets") return true;
  if (parts.length !== 3 || parts[0] !== "environments") return false;
  const name = parts[2];
  return name === "secrets.cfg" || name.startsWith("secrets.cfg.") || name.startsWith("secret-");
}

/** True when `relPath` or one of its ancestors is never synced (built-in rules only). */
export function isExcludedPath(relPath: string): boolean {
  return relPath.split("/").some(isExcludedName) || isSecretPath(relPath);
}

/**
 * Checks a path received from the other side: a non-empty relative path
 * without empty, `.` or `..` segments, backslashes or NUL, that the built-in
 * rules do not exclude. Throws a clear error otherwise.
 */
export function validateSyncPath(relPath: unknown): string {
  if (typeof relPath !== "string" || relPath === "") {
    throw new Error(`Refusing to sync path ${JSON.stringify(relPath)}: it must be a non-empty string`);
  }
  const bad = relPath.startsWith("/") || relPath.includes("\\") || relPath.includes("\0") ||
    relPath.split("/").some((s) => s === "" || s === "." || s === "..");
  if (bad) {
    throw new Error(
      `Refusing to sync path ${JSON.stringify(relPath)}: it must be relative and stay inside the deployment directory`,
    );
  }
  if (isExcludedPath(relPath)) {
    throw new Error(`Refusing to sync path ${JSON.stringify(relPath)}: it is excluded from project sync`);
  }
  return relPath;
}

/** Hex SHA-256 of a byte string (synchronous; see core/runtime/sha256.ts). */
export function sha256Bytes(data: Uint8Array): string {
  return sha256Hex(data);
}

/** Permission bits of a `Deno.FileInfo` mode. */
export function permissionBits(mode: number | null): number {
  return (mode ?? 0) & 0o7777;
}

/** Directories on the target always keep owner rwx, so the agent can write into them. */
export function targetDirMode(mode: number): number {
  return (mode | 0o700) & 0o7777;
}

/**
 * Maps `items` through `fn` with at most `limit` calls running at once; results
 * keep the input order. After a failure no new calls start; the first error is
 * thrown once every running call has finished.
 */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  let failed = null as { error: unknown } | null;
  const worker = async () => {
    while (!failed && next < items.length) {
      const i = next++;
      try {
        out[i] = await fn(items[i]);
      } catch (error) {
        failed ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failed) throw failed.error;
  return out;
}
