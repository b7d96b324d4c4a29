/**
 * Copying a directory tree onto another without rsync (batou's `SyncDirectory`):
 * directories are created, files are copied when their content (SHA-256) or
 * permission bits differ, symlinks are recreated when they point elsewhere.
 * Files that exist only in the target are left alone (rsync without `--delete`), unless `delete` is set: then they
 * are removed (rsync `--delete`), except those that an exclude pattern matches (rsync keeps excluded files in the
 * target, as without `--delete-excluded`).
 *
 * `exclude` patterns follow rsync's rules in the common cases: a pattern
 * without `/` matches a name at any depth, one with `/` matches the path
 * relative to the source (anchored at the top when it starts with `/`), a
 * trailing `/` matches directories only, `*` and `?` stay within a segment and
 * `**` crosses segments. Excluded directories are skipped with their contents.
 *
 * @module
 */
import { join } from "../core/runtime/path.ts";
import { ensurePathNonexistent, lstatOrNull, writeFileAtomic } from "../core/runtime/fsops.ts";
import { sha256FileHex } from "../core/runtime/sha256.ts";

/** One change that {@linkcode applySync} makes. */
export interface SyncAction {
  kind: "mkdir" | "copy" | "symlink" | "delete";
  /** Path relative to the source/target directory. */
  path: string;
  /** Why the action is needed (e.g. `missing`, `content`, `mode`). */
  reason: string;
}

function globSegmentRegExp(pattern: string): string {
  let re = "";
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === "*") {
      if (pattern[i + 1] === "*") {
        re += ".*";
        i++;
      } else re += "[^/]*";
    } else if (c === "?") re += "[^/]";
    else if (c === "[") {
      const end = pattern.indexOf("]", i + 2);
      if (end < 0) re += "\\[";
      else {
        let body = pattern.slice(i + 1, end).replaceAll("\\", "\\\\");
        if (body.startsWith("!")) body = "^" + body.slice(1);
        re += `[${body}]`;
        i = end;
      }
    } else re += c.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
  }
  return re;
}

/** A compiled exclude list; see the module documentation for the rules. */
export class ExcludeMatcher {
  readonly #rules: { re: RegExp; dirOnly: boolean; onName: boolean }[];

  constructor(patterns: readonly string[]) {
    this.#rules = patterns.filter((p) => p !== "").map((raw) => {
      let p = raw;
      const dirOnly = p.endsWith("/");
      if (dirOnly) p = p.replace(/\/+$/, "");
      const anchored = p.startsWith("/");
      if (anchored) p = p.replace(/^\/+/, "");
      const onName = !anchored && !p.includes("/");
      const body = globSegmentRegExp(p);
      const re = onName || anchored ? new RegExp(`^${body}$`, "s") : new RegExp(`(^|/)${body}$`, "s");
      return { re, dirOnly, onName };
    });
  }

  /** Whether the entry at `relPath` (relative to the source, `/`-separated) is excluded. */
  excludes(relPath: string, isDirectory: boolean): boolean {
    const name = relPath.slice(relPath.lastIndexOf("/") + 1);
    return this.#rules.some((r) => (!r.dirOnly || isDirectory) && r.re.test(r.onName ? name : relPath));
  }
}

/**
 * The SHA-256 of a file's content: read whole when `sizeHint` is at most 4 MiB, else in chunks (see core/runtime/sha256.ts
 * `sha256FileHex`).
 */
export function fileDigest(path: string, sizeHint = Infinity): Promise<string> {
  return sha256FileHex(path, sizeHint);
}

/** Options of {@linkcode planSync} and {@linkcode applySync}. */
export interface SyncOptions {
  /** Remove entries of the target that the source does not have (not excluded ones); default false. */
  delete?: boolean;
}

/** The names in directory `dir`, sorted; none when it does not exist or is no directory. */
async function namesIn(dir: string): Promise<string[]> {
  try {
    return (await Array.fromAsync(Deno.readDir(dir), (e) => e.name)).sort();
  } catch (e) {
    if (e instanceof Deno.errors.NotFound || e instanceof Deno.errors.NotADirectory) return [];
    throw e;
  }
}

/**
 * Compares `source` with `target` without changing anything and lists what
 * {@linkcode applySync} would do. A missing target lists every entry.
 */
export async function planSync(
  source: string,
  target: string,
  exclude: readonly string[] = [],
  opts: SyncOptions = {},
): Promise<SyncAction[]> {
  const matcher = new ExcludeMatcher(exclude);
  const actions: SyncAction[] = [];
  const walk = async (rel: string): Promise<void> => {
    const entries = await Array.fromAsync(Deno.readDir(rel ? join(source, rel) : source));
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    if (opts.delete) {
      const inSource = new Set(entries.map((e) => e.name));
      for (const name of await namesIn(rel ? join(target, rel) : target)) {
        if (inSource.has(name)) continue;
        const path = rel ? `${rel}/${name}` : name;
        const have = await lstatOrNull(join(target, path));
        if (have && !matcher.excludes(path, have.isDirectory)) {
          actions.push({ kind: "delete", path, reason: "extraneous" });
        }
      }
    }
    for (const entry of entries) {
      const path = rel ? `${rel}/${entry.name}` : entry.name;
      const from = join(source, path);
      const to = join(target, path);
      const info = await Deno.lstat(from);
      if (matcher.excludes(path, info.isDirectory)) continue;
      const have = await lstatOrNull(to);
      if (info.isDirectory) {
        if (!have?.isDirectory) actions.push({ kind: "mkdir", path, reason: have ? "not a directory" : "missing" });
        await walk(path);
      } else if (info.isSymlink) {
        const link = await Deno.readLink(from);
        if (!have?.isSymlink) actions.push({ kind: "symlink", path, reason: have ? "not a symlink" : "missing" });
        else if ((await Deno.readLink(to)) !== link) actions.push({ kind: "symlink", path, reason: "link target" });
      } else if (info.isFile) {
        if (!have?.isFile) actions.push({ kind: "copy", path, reason: have ? "not a file" : "missing" });
        else if (have.size !== info.size || (await fileDigest(from, info.size)) !== (await fileDigest(to, have.size))) {
          actions.push({ kind: "copy", path, reason: "content" });
        } else if (((have.mode ?? 0) & 0o7777) !== ((info.mode ?? 0) & 0o7777)) {
          actions.push({ kind: "copy", path, reason: "mode" });
        }
      }
      // Sockets, FIFOs and devices are not copied (rsync without -D).
    }
  };
  await walk("");
  return actions;
}

/**
 * Makes `target` match `source` (see the module documentation). `target` is
 * created when missing; with `leading` its missing parents too.
 */
export async function applySync(
  source: string,
  target: string,
  exclude: readonly string[] = [],
  opts: SyncOptions & { leading?: boolean } = {},
): Promise<SyncAction[]> {
  const top = await lstatOrNull(target);
  if (top && !top.isDirectory) await ensurePathNonexistent(target);
  if (!top?.isDirectory) await Deno.mkdir(target, { recursive: opts.leading ?? false });
  const actions = await planSync(source, target, exclude, opts);
  const dirModes: [string, number][] = [];
  for (const action of actions) {
    const from = join(source, action.path);
    const to = join(target, action.path);
    if (action.kind === "delete") {
      await ensurePathNonexistent(to);
      continue;
    }
    const info = await Deno.lstat(from);
    if (action.kind === "mkdir") {
      await ensurePathNonexistent(to);
      await Deno.mkdir(to);
      if (info.mode !== null) dirModes.push([to, info.mode & 0o7777]);
    } else if (action.kind === "symlink") {
      await ensurePathNonexistent(to);
      await Deno.symlink(await Deno.readLink(from), to);
    } else {
      const have = await lstatOrNull(to);
      if (have && !have.isFile) await ensurePathNonexistent(to);
      await writeFileAtomic(to, await Deno.readFile(from), { mode: (info.mode ?? 0o644) & 0o7777 });
    }
  }
  // Directory modes last, so that a read-only source directory does not block copying into it.
  for (const [path, mode] of dirModes.reverse()) await Deno.chmod(path, mode);
  return actions;
}
