/**
 * Shared component libraries (batou's `batou_ext` and in-house packages): the project's `deno.json` `imports`
 * map, read by the component loader so that component files import libraries by name, as Deno (and the editor,
 * through the same `deno.json`) resolves them:
 *
 * ```json
 * { "imports": { "batou": "…/mod.ts", "batou_ext/": "../shared/batou_ext/", "acme": "./vendor/acme/mod.ts" } }
 * ```
 *
 * `import { Nginx } from "batou_ext/nginx.ts"` then loads `../shared/batou_ext/nginx.ts` (relative to `deno.json`).
 * Keys ending in `/` map a prefix, other keys one specifier; the longest matching key wins (as in import maps).
 * Only local paths (relative, absolute or `file:`) are libraries; `"batou"` is always the running program.
 * `deno.json`'s `importMap` (a separate import map file) is read when it has no `imports`.
 *
 * A library's directory (a prefix entry's target, or the directory of an exact entry's file) that lies outside
 * what a remote deployment syncs is sent to `<project on the target>/.batou-libs/<name>/` (remote/controller/
 * sync_libraries.ts); {@linkcode resolveLibraryImport} prefers that copy when it exists, so the same component
 * files load on the controller and on every target.
 *
 * @module
 */
import { basename, dirname, isAbsolute, join, relative, resolve } from "../runtime/path.ts";
import { statOrNullSync } from "../runtime/fsops.ts";

/** Where a remote project keeps the copies of libraries from outside what is synced (relative to the project). */
export const SYNCED_LIBRARIES_DIR = ".batou-libs";

/** One entry of the project's import map. */
export interface LibraryEntry {
  /** The key as written (`batou_ext/`, `acme`). */
  key: string;
  /** Whether the key maps a prefix (ends with `/`). */
  prefix: boolean;
  /** The target as written. */
  target: string;
  /** The absolute local path of the target (null: not a local path, such as `npm:` or `https:`). */
  path: string | null;
  /** The library's directory (the target itself for a prefix, else its directory); null when not local. */
  root: string | null;
  /** The library's name below {@linkcode SYNCED_LIBRARIES_DIR} (unique in the project). */
  name: string;
}

/** The project's import map: its file (null without one) and entries, longest key first. */
export interface ProjectImports {
  file: string | null;
  entries: LibraryEntry[];
}

/** A `deno.json` (or import map) that cannot be read as one. */
export class ImportMapError extends Error {
  override name = "ImportMapError";
}

/** `path` as messages name it: relative to the project when inside it. */
function shown(path: string, baseDir: string): string {
  const rel = relative(baseDir, path);
  return rel && !rel.startsWith("../") ? rel : path;
}

function readJson(path: string, baseDir: string): Record<string, unknown> | null {
  let text: string;
  try {
    text = Deno.readTextFileSync(path);
  } catch {
    return null;
  }
  try {
    const value = JSON.parse(text);
    if (value && typeof value === "object" && !Array.isArray(value)) return value as Record<string, unknown>;
  } catch (e) {
    throw new ImportMapError(`${shown(path, baseDir)} is not valid JSON: ${(e as Error).message}`);
  }
  throw new ImportMapError(`${shown(path, baseDir)} must hold a JSON object`);
}

/** The local path of an import map target written in `file`'s directory, or null when it is not a local path. */
function localPath(target: string, dir: string): string | null {
  if (target.startsWith("file://")) return decodeURIComponent(new URL(target).pathname);
  if (target.startsWith("./") || target.startsWith("../") || isAbsolute(target)) return resolve(dir, target);
  return null;
}

/** A library name from its key: `batou_ext/` -> `batou_ext`, `@acme/lib/` -> `@acme_lib`. */
function nameOf(key: string): string {
  const name = key.replace(/\/+$/, "").replace(/[^A-Za-z0-9_.@-]/g, "_").replace(/^\.+/, "_");
  return name || "_";
}

/** Reads the import map of the project in `baseDir` (`deno.json`); no file or no `imports`: no entries. */
export function readProjectImports(baseDir: string): ProjectImports {
  const file = join(baseDir, "deno.json");
  const config = readJson(file, baseDir);
  if (!config) return { file: null, entries: [] };
  let imports = config.imports;
  let mapFile = file;
  if (imports === undefined && typeof config.importMap === "string") {
    const local = localPath(config.importMap, baseDir) ?? resolve(baseDir, config.importMap);
    const map = readJson(local, baseDir);
    if (!map) throw new ImportMapError(`deno.json: its importMap ${config.importMap} cannot be read`);
    imports = map.imports;
    mapFile = local;
  }
  if (imports === undefined) return { file: mapFile, entries: [] };
  const where = shown(mapFile, baseDir);
  if (!imports || typeof imports !== "object" || Array.isArray(imports)) {
    throw new ImportMapError(`${where}: "imports" must be an object of specifier -> path`);
  }
  const dir = dirname(mapFile);
  const entries: LibraryEntry[] = [];
  const names = new Set<string>();
  for (const [key, target] of Object.entries(imports as Record<string, unknown>)) {
    if (key === "batou" || key.startsWith("batou/")) continue;
    if (typeof target !== "string") throw new ImportMapError(`${where}: the import "${key}" must map to a string`);
    const prefix = key.endsWith("/");
    const path = localPath(target, dir);
    let name = nameOf(key);
    for (let i = 2; names.has(name); i++) name = `${nameOf(key)}-${i}`;
    names.add(name);
    entries.push({ key, prefix, target, path, root: path === null ? null : prefix ? path : dirname(path), name });
  }
  entries.sort((a, b) => b.key.length - a.key.length);
  return { file: mapFile, entries };
}

/** The entry of `imports` that maps `spec` (longest key first), or null. */
export function matchImport(imports: ProjectImports, spec: string): LibraryEntry | null {
  for (const e of imports.entries) {
    if (e.prefix ? spec.startsWith(e.key) : spec === e.key) return e;
  }
  return null;
}

/**
 * The local path that `spec` names through `imports`, for the project in `baseDir`: below the library's synced copy
 * (`.batou-libs/<name>`) when the project has one (a remote target), else below its own path. Null when no entry
 * maps `spec`; throws {@linkcode ImportMapError} for an entry that is no local path.
 */
export function resolveLibraryImport(imports: ProjectImports, spec: string, baseDir: string): string | null {
  const entry = matchImport(imports, spec);
  if (!entry) return null;
  if (entry.path === null || entry.root === null) {
    throw new ImportMapError(
      `Cannot import '${spec}': ${
        imports.file ? shown(imports.file, baseDir) : "deno.json"
      } maps "${entry.key}" to ${entry.target}, ` +
        "but component files can import only local files (a relative or absolute path)",
    );
  }
  const copy = join(baseDir, SYNCED_LIBRARIES_DIR, entry.name);
  const root = statOrNullSync(copy)?.isDirectory ? copy : entry.root;
  if (entry.prefix) return join(root, spec.slice(entry.key.length));
  return join(root, basename(entry.path));
}
