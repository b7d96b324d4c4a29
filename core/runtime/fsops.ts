/**
 * File-system operations shared by the file components, the agent and the secrets: removing whatever is in the
 * way, writing a file atomically (temporary file beside it, then rename) and
 * Python-style globbing.
 *
 * @module
 */
import { basename, dirname, join, normalize, resolve } from "./path.ts";

/** Whether `e` is Deno's "not found" error. */
export function isNotFound(e: unknown): boolean {
  return e instanceof Deno.errors.NotFound;
}

/** Whether `e` says the path is not there (also: a part of it is not a directory). */
function isMissing(e: unknown): boolean {
  return isNotFound(e) || e instanceof Deno.errors.NotADirectory;
}

/** `stat`-like `fn` whose missing path gives null. */
async function orNull(fn: () => Promise<Deno.FileInfo>): Promise<Deno.FileInfo | null> {
  try {
    return await fn();
  } catch (e) {
    if (isMissing(e)) return null;
    throw e;
  }
}

/** Synchronous {@linkcode orNull}. */
function orNullSync(fn: () => Deno.FileInfo): Deno.FileInfo | null {
  try {
    return fn();
  } catch (e) {
    if (isMissing(e)) return null;
    throw e;
  }
}

/** `lstat` that returns null for a missing path. */
export function lstatOrNull(path: string): Promise<Deno.FileInfo | null> {
  return orNull(() => Deno.lstat(path));
}

/** `stat` (following links) that returns null for a missing path or a broken link. */
export function statOrNull(path: string): Promise<Deno.FileInfo | null> {
  return orNull(() => Deno.stat(path));
}

/**
 * Synchronous {@linkcode lstatOrNull}, for the verify steps of the file components: Deno runs every asynchronous
 * file-system call on a worker thread, about 30-40 µs of CPU against 2-5 µs synchronously, and an agent deploys one
 * root at a time, so there is nothing for the event loop to do meanwhile (W1: ~240 checks per host).
 */
export function lstatOrNullSync(path: string): Deno.FileInfo | null {
  return orNullSync(() => Deno.lstatSync(path));
}

/** Synchronous {@linkcode statOrNull} (see {@linkcode lstatOrNullSync}). */
export function statOrNullSync(path: string): Deno.FileInfo | null {
  return orNullSync(() => Deno.statSync(path));
}

/** The last answer of {@linkcode fileInfoSync} given with a scope (see there); `scope` null: none. */
const remembered: { scope: object | null; path: string; follow: boolean; info: Deno.FileInfo | null } = {
  scope: null,
  path: "",
  follow: false,
  info: null,
};

/**
 * What is at `path`: `stat` when `follow` (a symlink is followed), else `lstat` (the link itself); null when nothing
 * is there (or, following, a broken link). Synchronous, see {@linkcode lstatOrNullSync}.
 *
 * With a `scope` (the parts of one `File` give the File), the answer is remembered, and a later call with the same
 * scope, path and `follow` gets it again without a system call: the presence, mode and content checks of one file
 * cost one `lstat` instead of three (issue 17, no-op of 8,000 files). The caller that may have changed anything on
 * disk meanwhile (the component deploy: before any update, and around any component whose code is not batou's own)
 * calls {@linkcode forgetFileInfo}.
 */
export function fileInfoSync(path: string, follow: boolean, scope: object | null = null): Deno.FileInfo | null {
  const r = remembered;
  if (scope !== null && r.scope === scope && r.path === path && r.follow === follow) return r.info;
  let info: Deno.FileInfo | null;
  try {
    info = follow ? Deno.statSync(path) : Deno.lstatSync(path);
  } catch (e) {
    if (!isMissing(e)) throw e;
    info = null;
  }
  if (scope !== null) {
    r.scope = scope;
    r.path = path;
    r.follow = follow;
    r.info = info;
  }
  return info;
}

/** Forgets the answer {@linkcode fileInfoSync} remembered: something may have changed on disk. */
export function forgetFileInfo(): void {
  remembered.scope = null;
  remembered.info = null;
}

function randomSuffix(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(6));
  return [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * Makes sure nothing exists at `path` (file, symlink, broken symlink or
 * directory tree): it is moved into a temporary directory beside it, which is
 * then deleted. A missing path is fine. A symlink is removed, never what it
 * points to.
 */
export async function ensurePathNonexistent(path: string): Promise<void> {
  if ((await lstatOrNull(path)) === null) return;
  const absolute = resolve(path);
  const tmp = await Deno.makeTempDir({ dir: dirname(absolute), prefix: ".batou-remove-" });
  try {
    await Deno.rename(absolute, join(tmp, basename(normalize(absolute))));
  } catch (e) {
    if (!isNotFound(e)) throw e;
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
}

/** Options of {@linkcode writeFileAtomic}. */
export interface AtomicWriteOptions {
  /** Permission bits of the new file; default: those of the file it replaces, else `0o666 & ~umask`. */
  mode?: number;
  /**
   * When `path` is a symlink: `false` (default, Ansible's `follow: no`) replaces the link itself with a regular
   * file, atomically, and never reads or writes what it points to; `true` replaces the file the link points to
   * and keeps the link (batou's behaviour; a broken link is replaced).
   */
  follow?: boolean;
}

async function writeAll(file: Deno.FsFile, data: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < data.length) offset += await file.write(data.subarray(offset));
}

/**
 * Replaces the content of `path` so that readers see either the old or the new
 * bytes, never a mix: the data goes into `.<name>.batou-tmp-<random>` in the
 * same directory, is fsynced, gets the mode and (as far as permitted) the owner
 * and group of the file it replaces, and is renamed over it. When `path` is a
 * symlink, the link is replaced by the new file (its target is left alone and lends neither mode nor owner), or,
 * with `follow: true`, the file it points to is replaced and the link stays.
 *
 * A missing directory is reported as `Deno.errors.NotFound` naming `path`.
 * The temporary file is removed on any failure. A writer that is killed
 * cannot remove it; the writer holds an exclusive lock (flock) on its
 * temporary file until the rename, and the next write of the same file
 * removes every temporary file of it whose lock is free
 * ({@linkcode removeStaleTemps}).
 */
export async function writeFileAtomic(path: string, data: Uint8Array, opts: AtomicWriteOptions = {}): Promise<void> {
  let target = path;
  const link = await lstatOrNull(path);
  let existing: Deno.FileInfo | null = link;
  if (link?.isSymlink) {
    existing = null;
    if (opts.follow) {
      try {
        target = await Deno.realPath(path);
        existing = await statOrNull(target);
      } catch { /* broken link: replace the link itself */ }
    }
  }
  if (existing && !existing.isFile) {
    throw new Deno.errors.IsADirectory(`Cannot write ${path}: it exists and is not a regular file`);
  }
  const dir = dirname(target);
  await removeStaleTemps(dir, basename(target));
  const tmp = join(dir, `${tempPrefix(basename(target))}${randomSuffix()}`);
  const restrictive = existing !== null || opts.mode !== undefined;
  let file: Deno.FsFile;
  try {
    file = await Deno.open(tmp, { write: true, createNew: true, ...(restrictive ? { mode: 0o600 } : {}) });
  } catch (e) {
    if (isNotFound(e)) throw new Deno.errors.NotFound(`Cannot write ${path}: directory ${dir} does not exist`);
    throw naming(e, `Cannot write ${path}`);
  }
  try {
    // Held until the rename: marks the temporary file as in use (see removeStaleTemps).
    await file.tryLock(true);
    await writeAll(file, data);
    await file.sync();
    if (existing) await copyOwner(tmp, existing);
    const mode = opts.mode ?? (existing?.mode !== null && existing?.mode !== undefined ? existing.mode & 0o7777 : null);
    if (mode !== null) await Deno.chmod(tmp, mode);
    await Deno.rename(tmp, target);
  } catch (e) {
    await Deno.remove(tmp).catch(() => {});
    throw naming(e, `Cannot write ${path}`);
  } finally {
    file.close();
  }
  await syncDirectory(dir);
}

/**
 * Lets `produce` write a file (a bundler, a compressor) and moves it to `path` only when it has succeeded: it writes
 * a temporary name beside `path` (the extension kept last, since some producers choose their format by it), which
 * is renamed over `path` or removed on failure. The parent directories are created (mode 0700). For bytes in hand
 * use {@linkcode writeFileAtomic}, which also fsyncs and keeps the replaced file's mode and owner.
 */
export async function produceAtomically(path: string, produce: (tmp: string) => Promise<void>): Promise<void> {
  await Deno.mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const dot = path.lastIndexOf(".");
  const [stem, ext] = dot > path.lastIndexOf("/") ? [path.slice(0, dot), path.slice(dot)] : [path, ""];
  const tmp = `${stem}.tmp-${Deno.pid}-${crypto.randomUUID().slice(0, 8)}${ext}`;
  try {
    await produce(tmp);
    await Deno.rename(tmp, path);
  } finally {
    await Deno.remove(tmp).catch(() => {});
  }
}

/**
 * `error` with `what` (e.g. `Cannot write /etc/app.conf`) in front of its message: the operating system's messages
 * (`No space left on device (os error 28)`, `Permission denied (os error 13)`) do not name the file. The class and
 * the `code` are kept, the original is the `cause`.
 */
export function naming(error: unknown, what: string): unknown {
  if (!(error instanceof Error) || error.message.startsWith(what)) return error;
  const Class = error.constructor as new (message: string, options?: ErrorOptions) => Error;
  let named: Error;
  try {
    named = new Class(`${what}: ${error.message}`, { cause: error });
  } catch {
    named = new Error(`${what}: ${error.message}`, { cause: error });
  }
  if ("code" in error) Object.assign(named, { code: (error as { code?: unknown }).code });
  return named;
}

/** The name prefix of {@linkcode writeFileAtomic}'s temporary files for the file `name`. */
function tempPrefix(name: string): string {
  return `.${name}.batou-tmp-`;
}

/**
 * Removes the temporary files of {@linkcode writeFileAtomic} for the file `name` in `dir` that a killed writer
 * left behind: a live writer holds an exclusive lock on its temporary file, a dead one's lock is free. Files that
 * cannot be opened or locked are left alone.
 */
export async function removeStaleTemps(dir: string, name: string): Promise<void> {
  const prefix = tempPrefix(name);
  let entries: Deno.DirEntry[];
  try {
    entries = await Array.fromAsync(Deno.readDir(dir));
  } catch {
    return;
  }
  for (const entry of entries) {
    if (!entry.isFile || !entry.name.startsWith(prefix)) continue;
    if (!/^[0-9a-f]{12}$/.test(entry.name.slice(prefix.length))) continue;
    const path = join(dir, entry.name);
    let file: Deno.FsFile;
    try {
      file = await Deno.open(path, { read: true });
    } catch {
      continue;
    }
    try {
      if (await file.tryLock(true)) await Deno.remove(path);
    } catch {
      /* in use, or not ours to remove */
    } finally {
      file.close();
    }
  }
}

type NodeFs = typeof import("node:fs");
let nodeFsModule: NodeFs | null = null;

/** node:fs, loaded on first use only (an agent that changes no mode never pays for Node's compatibility layer). */
async function nodeFs(): Promise<NodeFs> {
  return nodeFsModule ??= (await import("node:fs")).default as unknown as NodeFs;
}

/**
 * Runs `change` on a file descriptor of `path` opened without following a symlink (`O_NOFOLLOW`, and `O_NONBLOCK`
 * so that a FIFO does not block). Returns false, changing nothing, when `path` is a symlink: a link that appears
 * between a check and the change cannot redirect it to another file. A path the process may not open for reading
 * is changed by name after an lstat (the only case with a race left).
 */
async function changeNoFollow(
  path: string,
  what: string,
  change: (fs: NodeFs, fd: number) => void,
  byName: () => Promise<void>,
): Promise<boolean> {
  const fs = await nodeFs();
  let fd: number;
  try {
    fd = fs.openSync(path, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK);
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code === "ELOOP") return false;
    if (code === "EACCES" && !(await lstatOrNull(path))?.isSymlink) {
      await byName();
      return true;
    }
    if (code === "ENOENT") throw new Deno.errors.NotFound(`${what} ${path}: it does not exist`);
    throw naming(e, `${what} ${path}`);
  }
  try {
    change(fs, fd);
  } catch (e) {
    throw naming(e, `${what} ${path}`);
  } finally {
    fs.closeSync(fd);
  }
  return true;
}

/** `chmod` that never follows a symlink at `path` (Linux has no lchmod): false, and nothing changed, for a link. */
export function chmodNoFollow(path: string, mode: number): Promise<boolean> {
  return changeNoFollow(
    path,
    "Cannot change the mode of",
    (fs, fd) => fs.fchmodSync(fd, mode),
    () => Deno.chmod(path, mode),
  );
}

/**
 * `chown` (null keeps an id) that never follows a symlink at `path`: false, and nothing changed, for a link (Deno
 * has no lchown; the caller may use `chown -h`).
 */
export function chownNoFollow(path: string, uid: number | null, gid: number | null): Promise<boolean> {
  return changeNoFollow(
    path,
    "Cannot change the owner of",
    (fs, fd) => fs.fchownSync(fd, uid ?? -1, gid ?? -1),
    () => Deno.chown(path, uid, gid),
  );
}

/** Gives `path` the owner and group of `like`; keeps what the process may not change. */
async function copyOwner(path: string, like: Deno.FileInfo): Promise<void> {
  if (like.uid === null || like.gid === null) return;
  const current = await Deno.stat(path);
  if (current.uid === like.uid && current.gid === like.gid) return;
  try {
    await Deno.chown(path, like.uid, like.gid);
  } catch {
    try {
      await Deno.chown(path, null, like.gid);
    } catch { /* not permitted: the file keeps the writer's ids */ }
  }
}

/** fsyncs a directory so that a rename in it is durable; best effort. */
async function syncDirectory(dir: string): Promise<void> {
  try {
    const d = await Deno.open(dir, { read: true });
    try {
      await d.sync();
    } finally {
      d.close();
    }
  } catch { /* not supported here */ }
}

/** Whether a path segment contains glob magic (`*`, `?`, `[`). */
export function hasMagic(segment: string): boolean {
  return /[*?[]/.test(segment);
}

/** Python's `fnmatch.translate` for one path segment, as an anchored RegExp. */
export function fnmatchRegExp(pattern: string): RegExp {
  let re = "";
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === "*") re += ".*";
    else if (c === "?") re += ".";
    else if (c === "[") {
      let j = i + 1;
      if (pattern[j] === "!") j++;
      if (pattern[j] === "]") j++;
      while (j < pattern.length && pattern[j] !== "]") j++;
      if (j >= pattern.length) {
        re += "\\[";
        continue;
      }
      let body = pattern.slice(i + 1, j).replaceAll("\\", "\\\\");
      if (body.startsWith("!")) body = "^" + body.slice(1);
      else if (body.startsWith("^")) body = "\\" + body;
      re += `[${body}]`;
      i = j;
    } else re += c.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
  }
  return new RegExp(`^${re}$`, "s");
}

/**
 * Python's `glob.glob(pattern)` (not recursive): `*`, `?` and `[...]` match
 * within one path segment, names starting with `.` only match a pattern
 * segment starting with `.`, and matches are returned in sorted order.
 * Relative patterns resolve against the process's cwd, so pass absolute ones.
 */
export async function glob(pattern: string): Promise<string[]> {
  const absolute = pattern.startsWith("/");
  const segments = pattern.split("/").filter((s) => s !== "");
  let candidates = [absolute ? "/" : ""];
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i];
    const last = i === segments.length - 1;
    const next: string[] = [];
    for (const base of candidates) {
      if (!hasMagic(segment)) {
        const path = base ? join(base, segment) : segment;
        const info = last ? await lstatOrNull(path) : await statOrNull(path);
        if (info && (last || info.isDirectory)) next.push(path);
        continue;
      }
      const re = fnmatchRegExp(segment);
      let entries: Deno.DirEntry[];
      try {
        entries = await Array.fromAsync(Deno.readDir(base || "."));
      } catch {
        continue;
      }
      for (const entry of entries) {
        if (entry.name.startsWith(".") && !segment.startsWith(".")) continue;
        if (!re.test(entry.name)) continue;
        const path = base ? join(base, entry.name) : entry.name;
        if (!last && !(await statOrNull(path))?.isDirectory) continue;
        next.push(path);
      }
    }
    candidates = next.sort();
  }
  return segments.length ? candidates : [];
}
