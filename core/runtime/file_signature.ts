/**
 * A file's signature: size, mtime, ctime, inode and device. The kernel sets the ctime on every change of a file's
 * content or metadata, and no program can set it back, so an unchanged signature means unchanged content, provided
 * the change did not fall within the ctime's granularity: Deno reports ctime in whole seconds. Whoever remembers
 * what a file held under its signature therefore does so only when the ctime is at least {@linkcode RACY_MARGIN_MS}
 * older than the moment the read began (git's "racily clean" rule); any later change gets a later ctime. Used by the
 * project sync's hash cache (remote/agent/sync_agent.ts) and the content checks' memo (content_memo.ts).
 *
 * @example
 * ```ts
 * import { fileSignature, sameSignature } from "./file_signature.ts";
 * const before = fileSignature(Deno.lstatSync("/etc/hostname"));
 * sameSignature(before, fileSignature(Deno.lstatSync("/etc/hostname"))); // true while nothing changed it
 * ```
 * @module
 */

/** How much older than a read's start a file's ctime must be to remember the read (1 s granularity, plus skew). */
export const RACY_MARGIN_MS = 2000;

/** What identifies a file's state: a change of content or metadata changes the ctime at least. */
export interface FileSignature {
  size: number;
  mtimeMs: number;
  ctimeMs: number;
  ino: number;
  dev: number;
}

/** The signature of `info`; null when the platform does not report one of its parts. */
export function fileSignature(info: Deno.FileInfo): FileSignature | null {
  if (info.ino === null || info.dev === null || !info.mtime || !info.ctime) return null;
  return {
    size: info.size,
    mtimeMs: info.mtime.getTime(),
    ctimeMs: info.ctime.getTime(),
    ino: info.ino,
    dev: info.dev,
  };
}

/** Whether two signatures are of the same file in the same state (false when either is missing). */
export function sameSignature(a: FileSignature | null, b: FileSignature | null): boolean {
  return !!a && !!b && a.size === b.size && a.mtimeMs === b.mtimeMs && a.ctimeMs === b.ctimeMs &&
    a.ino === b.ino && a.dev === b.dev;
}

/** Whether `info` shows the file in the state `signature` describes (no signature made: a check per managed file). */
export function hasSignature(info: Deno.FileInfo, signature: FileSignature): boolean {
  return info.size === signature.size && info.mtime?.getTime() === signature.mtimeMs &&
    info.ctime?.getTime() === signature.ctimeMs && info.ino === signature.ino && info.dev === signature.dev;
}
