/**
 * POSIX path functions with the results of `node:path` (its `posix` half, what `node:path` is on every platform
 * batou targets), without Node's compatibility layer: the first `node:` import makes Deno initialise it, ~5-15 ms of
 * CPU that every agent paid at start. Only {@linkcode resolve} and {@linkcode relative} read the working directory,
 * and only when a path is relative.
 *
 * tests/core_path_test.ts compares every function with `node:path` on a broad table of inputs.
 *
 * @example
 * ```ts
 * import { join, relative } from "./path.ts";
 * join("/srv/app/", "../etc", "x.conf"); // "/srv/etc/x.conf"
 * relative("/srv/app", "/srv/etc/x.conf"); // "../etc/x.conf"
 * ```
 * @module
 */

/** The path segment separator. */
export const sep = "/";

/** The separator of `PATH`-like lists. */
export const delimiter = ":";

function checkString(value: unknown, name: string): asserts value is string {
  if (typeof value !== "string") {
    const error = new TypeError(`The "${name}" argument must be of type string. Received ${describe(value)}`);
    throw Object.assign(error, { code: "ERR_INVALID_ARG_TYPE" });
  }
}

function describe(value: unknown): string {
  if (value === null || value === undefined) return String(value);
  if (typeof value === "function") return `function ${value.name}`;
  if (typeof value === "object") return `an instance of ${value.constructor?.name ?? "Object"}`;
  return `type ${typeof value} (${String(value)})`;
}

/**
 * The segments of `path` with `.` and empty segments dropped and `..` applied; a `..` that would climb above the
 * start is kept when `aboveRoot` is set (relative paths), dropped otherwise (absolute paths).
 */
function normalizeSegments(path: string, aboveRoot: boolean): string {
  const out: string[] = [];
  for (const segment of path.split("/")) {
    if (segment === "" || segment === ".") continue;
    if (segment !== "..") out.push(segment);
    else if (out.length > 0 && out[out.length - 1] !== "..") out.pop();
    else if (aboveRoot) out.push("..");
  }
  return out.join("/");
}

/** Something {@linkcode normalize} changes: a repeated separator, or a `.` or `..` segment. */
const NOT_NORMAL = /\/\/|(^|\/)\.\.?(\/|$)/;

/** Whether `path` starts at the root (`/`). */
export function isAbsolute(path: string): boolean {
  checkString(path, "path");
  return path.charCodeAt(0) === 47;
}

/**
 * `path` with repeated separators, `.` and `..` resolved lexically; a trailing separator is kept, the empty path
 * is `.`.
 */
export function normalize(path: string): string {
  checkString(path, "path");
  if (path === "") return ".";
  // Most paths are normal already (a component maps thousands of them): those come back as they are.
  if (!NOT_NORMAL.test(path)) return path;
  const absolute = path.charCodeAt(0) === 47;
  const trailing = path.charCodeAt(path.length - 1) === 47;
  let out = normalizeSegments(path, !absolute);
  if (out === "" && !absolute) out = ".";
  if (out !== "" && trailing) out += "/";
  return absolute ? `/${out}` : out;
}

/** The non-empty `paths` joined with `/` and normalized (`.` when there are none). */
export function join(...paths: string[]): string {
  let joined: string | undefined;
  for (const path of paths) {
    checkString(path, "path");
    if (path !== "") joined = joined === undefined ? path : `${joined}/${path}`;
  }
  return joined === undefined ? "." : normalize(joined);
}

/**
 * The absolute path that `paths` lead to, from right to left until one is absolute; relative results start at the
 * working directory (`Deno.cwd()`, read only then). No trailing separator (but `/`).
 */
export function resolve(...paths: string[]): string {
  let resolved = "";
  let absolute = false;
  for (let i = paths.length - 1; i >= -1 && !absolute; i--) {
    const path = i >= 0 ? paths[i] : Deno.cwd();
    checkString(path, `paths[${i}]`);
    if (path === "") continue;
    resolved = `${path}/${resolved}`;
    absolute = path.charCodeAt(0) === 47;
  }
  const out = normalizeSegments(resolved, !absolute);
  if (absolute) return `/${out}`;
  return out === "" ? "." : out;
}

/** The relative path from `from` to `to` (both resolved first); `""` when they are the same. */
export function relative(from: string, to: string): string {
  checkString(from, "from");
  checkString(to, "to");
  if (from === to) return "";
  const a = resolve(from), b = resolve(to);
  if (a === b) return "";
  const fromParts = a === "/" ? [] : a.slice(1).split("/");
  const toParts = b === "/" ? [] : b.slice(1).split("/");
  let common = 0;
  while (common < fromParts.length && common < toParts.length && fromParts[common] === toParts[common]) common++;
  return [...fromParts.slice(common).map(() => ".."), ...toParts.slice(common)].join("/");
}

/** Start and end of the last non-empty segment of `path` (trailing separators ignored); end -1 when there is none. */
function lastSegment(path: string): { start: number; end: number } {
  let end = path.length;
  while (end > 0 && path.charCodeAt(end - 1) === 47) end--;
  if (end === 0) return { start: 0, end: -1 };
  return { start: path.lastIndexOf("/", end - 1) + 1, end };
}

/**
 * The directory part of `path`: everything before its last segment, without trailing separators (`/` for a
 * segment at the root, `.` when there is no directory part). As Node, a path that starts with `//` followed by one
 * segment gives `//`.
 */
export function dirname(path: string): string {
  checkString(path, "path");
  if (path === "") return ".";
  const rooted = path.charCodeAt(0) === 47;
  // The last separator that follows a non-separator, looking from the end (index 0 is never taken).
  let end = -1;
  let sawName = false;
  for (let i = path.length - 1; i >= 1; i--) {
    if (path.charCodeAt(i) !== 47) sawName = true;
    else if (sawName) {
      end = i;
      break;
    }
  }
  if (end === -1) return rooted ? "/" : ".";
  if (rooted && end === 1) return "//";
  return path.slice(0, end);
}

/**
 * The last segment of `path` (trailing separators ignored). With a non-empty `suffix` that the segment ends with
 * (and is not just `suffix`) the segment without it; `basename(p, p)` is `""`. Node's quirks with a suffix are
 * kept: a segment shorter than a suffix it ends with, or a path of only separators, comes back with its trailing
 * separators.
 */
export function basename(path: string, suffix?: string): string {
  checkString(path, "path");
  if (suffix !== undefined) checkString(suffix, "suffix");
  if (!suffix || suffix.length > path.length) {
    const { start, end } = lastSegment(path);
    return end === -1 ? "" : path.slice(start, end);
  }
  if (suffix === path) return "";
  // From the end: the segment's bounds, and where the suffix, compared backwards from the segment's end, begins.
  let start = 0, end = -1, segmentEnd = -1, k = suffix.length - 1;
  for (let i = path.length - 1; i >= 0; i--) {
    const c = path.charCodeAt(i);
    if (c === 47) {
      if (segmentEnd !== -1) {
        start = i + 1;
        break;
      }
      continue;
    }
    if (segmentEnd === -1) segmentEnd = i + 1;
    if (k < 0) continue;
    if (c !== suffix.charCodeAt(k)) {
      k = -1;
      end = segmentEnd;
    } else if (--k === -1) end = i;
  }
  if (start === end) end = segmentEnd;
  else if (end === -1) end = path.length;
  return path.slice(start, end);
}

/**
 * The extension of the last segment of `path`: from its last `.` to the end; `""` when it has none, starts with
 * its only dot (`.bashrc`) or is `..`.
 */
export function extname(path: string): string {
  checkString(path, "path");
  const { start, end } = lastSegment(path);
  if (end === -1) return "";
  const base = path.slice(start, end);
  const dot = base.lastIndexOf(".");
  if (dot <= 0 || base === "..") return "";
  return base.slice(dot);
}
