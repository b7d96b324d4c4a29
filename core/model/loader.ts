/**
 * Loads the user's component files (`components/<name>/component.ts` or `.js`).
 *
 * Files are transpiled with sucrase (types stripped, imports turned into
 * `require` calls; through a cache, see `transpile.ts`) and evaluated with a
 * `require` that serves `"batou"` (and `"batou/..."`) from the running program,
 * `"node:..."` built-ins, relative files from the project and the shared libraries that the
 * project's `deno.json` maps (import_map.ts). This works the same
 * in source and compiled mode: no native dynamic import of user files is involved.
 * The wrapped code is evaluated with `runScript` (core/runtime/script.ts: `runInThisContext`
 * without loading `node:vm`).
 *
 * @module
 */
import { compareStrings } from "../runtime/compare.ts";
import { basename, dirname, join, relative, resolve } from "../runtime/path.ts";
import { Component, type ComponentClass } from "./component.ts";
import { stackFrames } from "../runtime/stack.ts";
import { ComponentLoadingError, DuplicateComponent, type ReportingError } from "./errors.ts";
import { sucrase } from "../runtime/lazy.ts";
import { transformsFor, transpile } from "../runtime/transpile.ts";
import { runScript } from "../runtime/script.ts";
import { type ProjectImports, readProjectImports, resolveLibraryImport } from "./import_map.ts";
import { unknownNameError } from "./unknown_name.ts";

/** A loaded component class and where it came from. */
export interface ComponentDefinition {
  /** Lower-cased class name. */
  name: string;
  factory: ComponentClass;
  filename: string;
  /** The directory of the component file (templates and files). */
  defdir: string;
}

/** Result of {@linkcode loadComponents}: the definitions and the errors met. */
export interface LoadResult {
  components: Map<string, ComponentDefinition>;
  errors: ReportingError[];
  /**
   * The component names (lower case) that files which failed to load appear to define: their classes and their
   * folder names. Reports about these names being unknown would only follow from the load error.
   */
  failed: Set<string>;
}

/**
 * A Node built-in for a component file's `require("node:...")`: what Node's `require` returns, or its error for a
 * name that is none.
 */
function nodeRequire(spec: string): unknown {
  const { process } = globalThis as unknown as { process: { getBuiltinModule(id: string): unknown } };
  const module = process.getBuiltinModule(spec);
  if (module === undefined) {
    throw Object.assign(new Error(`No such built-in module: ${spec}`), { code: "ERR_UNKNOWN_BUILTIN_MODULE" });
  }
  return module;
}

/** Finds `components/*\/component.{ts,js}` below `baseDir`, sorted. */
export function componentFiles(baseDir: string): string[] {
  const dir = join(baseDir, "components");
  const out: string[] = [];
  let entries: Deno.DirEntry[] = [];
  try {
    entries = [...Deno.readDirSync(dir)];
  } catch {
    return out;
  }
  for (const e of entries.filter((e) => e.isDirectory).sort((a, b) => compareStrings(a.name, b.name))) {
    for (const ext of ["ts", "js"]) {
      const f = join(dir, e.name, `component.${ext}`);
      try {
        if (Deno.statSync(f).isFile) {
          out.push(f);
          break;
        }
      } catch { /* absent */ }
    }
  }
  return out;
}

/** The wrapper parameter that stands for `import.meta` in a transpiled file. */
const IMPORT_META = "__batou_import_meta";

/**
 * `code` with `import.meta` (which only ES modules may use, and sucrase leaves as it is) read from the wrapper's
 * parameter, so that a component or library file finds its own files with `import.meta.dirname` as under Deno.
 */
function withImportMeta(code: string): string {
  return code.includes("import.meta") ? code.replace(/\bimport\.meta\b/g, IMPORT_META) : code;
}

/** What `import.meta` is in the file `path`: its `url`, `filename` and `dirname`; `main` is false. */
function importMeta(path: string): { url: string; filename: string; dirname: string; main: boolean } {
  const url = "file://" + path.split("/").map(encodeURIComponent).join("/");
  return { url, filename: path, dirname: dirname(path), main: false };
}

/** A module system for project files with `"batou"` served from `modules`. */
export class ModuleLoader {
  #cache = new Map<string, Record<string, unknown>>();

  constructor(readonly modules: Record<string, unknown>, readonly baseDir: string) {}

  /** Loads (once) and returns the exports of the project file `path`. */
  load(path: string): Record<string, unknown> {
    const cached = this.#cache.get(path);
    if (cached) return cached;
    const source = Deno.readTextFileSync(path);
    const module = { exports: {} as Record<string, unknown> };
    this.#cache.set(path, module.exports);
    let code: string;
    try {
      code = transpile(source, path);
    } catch (e) {
      this.#cache.delete(path);
      throw new ComponentSyntaxError(path, e);
    }
    const missing = this.#missingBatouExport(code, source);
    if (missing) {
      this.#cache.delete(path);
      throw new ComponentSyntaxError(
        path,
        new SyntaxError(`The requested module '${missing.spec}' does not provide an export named '${missing.name}'`),
        missing.line,
      );
    }
    let wrapper: (...args: unknown[]) => void;
    try {
      wrapper = runScript(
        `(function (exports, require, module, __filename, __dirname, ${IMPORT_META}) {${withImportMeta(code)}\n})`,
        path,
      ) as (...args: unknown[]) => void;
    } catch (e) {
      this.#cache.delete(path);
      // V8 rejected what sucrase accepted; its compile errors carry no position, so find the usual culprit.
      const line = decoratorLine(source, path);
      if (line !== null) {
        throw new ComponentSyntaxError(
          path,
          new SyntaxError(
            `Decorators are not supported in component files (line ${line}): ` +
              "use platform(name, Base)(Cls) and static events = { method: [event, scope] } instead",
          ),
          line,
        );
      }
      throw new ComponentSyntaxError(path, e);
    }
    const req = (spec: string) => this.#require(spec, dirname(path));
    try {
      wrapper(module.exports, req, module, path, dirname(path), importMeta(path));
    } catch (e) {
      this.#cache.delete(path);
      throw e;
    }
    this.#cache.set(path, module.exports);
    return module.exports;
  }

  /**
   * The first named import from `"batou"` (or `"batou/..."`) that the program does not export, with the line of
   * the source that names it. Native ES modules fail at link time on such an import; sucrase's `require` form
   * would only fail later with "(0, _batou.X) is not a constructor". Type-only imports are gone from `code`.
   */
  #missingBatouExport(code: string, source: string): { spec: string; name: string; line: number | undefined } | null {
    for (const m of code.matchAll(/\bvar (_\w+) = require\((['"])(batou(?:\/[^'"]*)?)\2\)/g)) {
      const [, variable, , spec] = m;
      const exports = this.#batouModule(spec) as Record<string, unknown> | undefined;
      if (!exports || typeof exports !== "object") continue;
      for (const use of code.matchAll(new RegExp(`\\b${variable}\\.([A-Za-z_$][\\w$]*)`, "g"))) {
        const name = use[1];
        if (name in exports) continue;
        const index = source.split("\n").findIndex((l) => new RegExp(`\\b${name.replace(/\$/g, "\\$")}\\b`).test(l));
        return { spec, name, line: index >= 0 ? index + 1 : undefined };
      }
    }
    return null;
  }

  /**
   * What `"batou"` or `"batou/..."` names: a module given by that name, else the `"batou"` module, where
   * `"batou/lib/<family>"` sees the family's own names first (its `LIBRARY_FAMILIES` entry), so that batou's
   * `from batou.lib.mercurial import Clone` reads `import { Clone } from "batou/lib/mercurial"` (not git's Clone).
   */
  #batouModule(spec: string): unknown {
    if (spec in this.modules) return this.modules[spec];
    const batou = this.modules["batou"] as Record<string, unknown> | undefined;
    if (!batou) return undefined;
    const family = /^batou\/lib\/([\w-]+)$/.exec(spec)?.[1];
    const families = batou.LIBRARY_FAMILIES as Record<string, Record<string, unknown>> | undefined;
    const names = family ? families?.[family] : undefined;
    if (!names) return batou;
    let merged = this.#families.get(spec);
    if (!merged) this.#families.set(spec, merged = { ...batou, ...names });
    return merged;
  }

  #families = new Map<string, Record<string, unknown>>();

  #require(spec: string, fromDir: string): unknown {
    if (spec === "batou" || spec.startsWith("batou/")) {
      const m = this.#batouModule(spec);
      if (m) return m;
    }
    if (spec in this.modules) return this.modules[spec];
    if (spec.startsWith("node:")) return nodeRequire(spec);
    if (spec.startsWith("./") || spec.startsWith("../") || spec.startsWith("/")) {
      return this.#loadPath(spec, resolve(fromDir, spec));
    }
    this.#imports ??= readProjectImports(this.baseDir);
    const library = resolveLibraryImport(this.#imports, spec, this.baseDir);
    if (library !== null) return this.#loadPath(spec, library);
    throw new Error(
      `Cannot find module '${spec}': component files may import "batou", "batou/...", "node:...", relative files ` +
        `and the libraries of the project's deno.json "imports"`,
    );
  }

  /** The project's import map (deno.json), read on the first import that needs it. */
  #imports: ProjectImports | null = null;

  /** Loads the file `base` (or `base.ts`, `base.js`, `base/index.ts`, `base/index.js`) that `spec` named. */
  #loadPath(spec: string, base: string): unknown {
    for (const candidate of [base, `${base}.ts`, `${base}.js`, join(base, "index.ts"), join(base, "index.js")]) {
      let isFile = false;
      try {
        isFile = Deno.statSync(candidate).isFile;
      } catch { /* try the next */ }
      if (!isFile) continue;
      if (candidate.endsWith(".json")) return JSON.parse(Deno.readTextFileSync(candidate));
      return this.load(candidate);
    }
    throw new Error(`Cannot find module '${spec}' (looked for ${relative(this.baseDir, base)}{,.ts,.js})`);
  }
}

/** A component file that does not parse. */
export class ComponentSyntaxError extends Error {
  override name = "SyntaxError";
  line: number | null;

  constructor(readonly file: string, cause: unknown, line?: number) {
    const msg = cause instanceof Error ? cause.message : String(cause);
    const m = /\((\d+):(\d+)\)/.exec(msg);
    super(msg.replace(/^Error transforming [^:]+: /, ""));
    this.line = line ?? (m ? Number(m[1]) : null);
  }
}

/** The line of the first decorator (`@name`) in `source`, found with sucrase's tokenizer, or null. */
function decoratorLine(source: string, path: string): number | null {
  let tokens: string;
  try {
    tokens = sucrase().getFormattedTokens(source, { transforms: transformsFor(path), filePath: path });
  } catch {
    return null;
  }
  const m = /^(\d+):\d+-\S+\s+@\s/m.exec(tokens);
  return m ? Number(m[1]) : null;
}

/**
 * Where an error happened while loading `file`, for reports: the frames in the project's own files (`file:line`),
 * outermost first, one per line. A syntax error names the file that does not parse.
 */
function placeIn(file: string, error: unknown, baseDir: string): string {
  if (error instanceof ComponentSyntaxError) {
    return `  ${relative(baseDir, error.file)}${error.line ? `:${error.line}` : ""}`;
  }
  const places: string[] = [];
  for (const f of stackFrames(error instanceof Error ? error.stack : undefined)) {
    if (!f.path.startsWith("/")) continue;
    const rel = relative(baseDir, f.path);
    if (rel.startsWith("..") || rel.includes("node_modules")) continue;
    const place = `  ${rel}:${f.line}`;
    if (places[places.length - 1] !== place) places.push(place);
  }
  return places.length ? places.reverse().join("\n") : `  ${relative(baseDir, file)}`;
}

/** Loads every component file below `baseDir`. Errors are collected, never thrown. */
export function loadComponents(baseDir: string, modules: Record<string, unknown>): LoadResult {
  const loader = new ModuleLoader(modules, baseDir);
  const components = new Map<string, ComponentDefinition>();
  const errors: ReportingError[] = [];
  const failed = new Set<string>();
  for (const file of componentFiles(baseDir)) {
    const rel = relative(baseDir, file);
    let exports: Record<string, unknown>;
    try {
      exports = loader.load(file);
    } catch (e) {
      const batou = modules["batou"];
      const unknown = unknownNameError(e, baseDir, batou && typeof batou === "object" ? Object.keys(batou) : []);
      errors.push(unknown ?? ComponentLoadingError.of(rel, e, placeIn(file, e, baseDir)));
      for (const name of definedClassNames(file)) failed.add(name);
      continue;
    }
    const inFile = new Map<string, ComponentClass>();
    for (const value of Object.values(exports)) {
      if (typeof value !== "function" || !(value.prototype instanceof Component)) continue;
      const cls = value as ComponentClass;
      const name = cls.name.toLowerCase();
      const seen = inFile.get(name);
      if (seen && seen !== cls) {
        errors.push(ComponentLoadingError.of(rel, DuplicateComponent.of(name, rel, rel), `  ${rel}`));
        continue;
      }
      inFile.set(name, cls);
      const previous = components.get(name);
      if (previous && previous.factory !== cls) {
        errors.push(DuplicateComponent.of(name, previous.filename, rel));
        continue;
      }
      if (!previous) components.set(name, { name, factory: cls, filename: rel, defdir: dirname(file) });
    }
    if (inFile.size === 0) {
      errors.push(
        ComponentLoadingError.of(
          rel,
          new Error(`${basename(file)} exports no component class (export a class that extends Component)`),
          `  ${rel}`,
        ),
      );
    }
  }
  return { components, errors, failed };
}

/** The lower-cased names of the classes `file` declares, and its folder's name (a scan of the source text). */
function definedClassNames(file: string): string[] {
  const names = [basename(dirname(file)).toLowerCase()];
  let source = "";
  try {
    source = Deno.readTextFileSync(file);
  } catch {
    return names;
  }
  for (const m of source.matchAll(/\bclass\s+([A-Za-z_$][\w$]*)/g)) names.push(m[1].toLowerCase());
  return names;
}
