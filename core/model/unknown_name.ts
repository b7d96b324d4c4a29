/**
 * A typo in a component file (`new Supervisr()`) is the user's mistake, not a batou bug: a `ReferenceError
 * "X is not defined"` thrown from a project file, while loading it or configuring a component, becomes
 * {@linkcode UnknownNameError}, naming the file and line (project-relative), the name, and the closest name the file
 * could mean: its own imports and declarations, the exports of `"batou"`, and JavaScript's globals.
 *
 * @example
 * ```ts
 * import { unknownNameError } from "./unknown_name.ts";
 * const e = unknownNameError(caught, "/path/to/project", Object.keys(batouModule));
 * if (e) errors.push(e);
 * ```
 * @module
 */
import { closestName } from "../formats/suggest.ts";
import { relative } from "../runtime/path.ts";
import { stackFrames } from "../runtime/stack.ts";
import { normalizeStack } from "../runtime/script.ts";
import {
  ConfigurationError,
  registerErrorClass,
  type ReportingError,
  type ReportWriter,
  type SortKey,
} from "./errors.ts";

/** A name that a component file uses but nothing defines (batou's NameError). */
export class UnknownNameError extends ConfigurationError {
  override name = "UnknownNameError";
  /** The project-relative file. */
  file = "";
  lineNo = 0;
  /** The unknown name. */
  identifier = "";
  /** The closest name the file could mean, or "". */
  suggestion = "";
  /** Whether {@linkcode suggestion} (or the name itself) is a `"batou"` export that the file does not import. */
  notImported = false;
  /** The root component being configured, or "" while loading. */
  rootName = "";
  /** The exception's stack, shown only with `--debug`. */
  fullTraceback = "";

  /** Builds the error; see {@linkcode unknownNameError}. */
  static at(
    file: string,
    line: number,
    identifier: string,
    suggestion: string,
    notImported: boolean,
  ): UnknownNameError {
    const e = new UnknownNameError(
      notImported && suggestion === identifier
        ? `${file}:${line}: \`${identifier}\` is not imported`
        : `${file}:${line}: Unknown name \`${identifier}\``,
    );
    e.file = file;
    e.lineNo = line;
    e.identifier = identifier;
    e.suggestion = suggestion;
    e.notImported = notImported;
    return e;
  }

  override get sortKey(): SortKey {
    return [0, this.file, this.lineNo];
  }

  /** The same error apart from the host; the stack (paths differ per host) does not count. */
  override sameAs(other: ReportingError): boolean {
    const key = (e: ReportingError) => JSON.stringify({ ...e.fields(), fullTraceback: undefined });
    return other.constructor === this.constructor && key(other) === key(this);
  }

  override report(w: ReportWriter): void {
    w.error(this.message);
    if (this.rootName) w.tabular("Component", this.rootName, { red: true });
    if (this.suggestion === this.identifier && this.notImported) {
      w.line(`\`${this.identifier}\` is exported by "batou": add it to the file's import from "batou".`);
    } else if (this.suggestion) {
      const hint = this.notImported ? ` (exported by "batou": add it to the file's import from "batou")` : "";
      w.line(`Did you mean \`${this.suggestion}\`?${hint}`);
    }
    const frames = this.fullTraceback.split("\n").filter((l) => l.trim().startsWith("at "));
    for (const l of frames) w.line("\t" + l.trim(), { red: true, debug: true });
  }
}

registerErrorClass("UnknownNameError", UnknownNameError);

const IDENT = "[A-Za-z_$][\\w$]*";

/** The names a source file imports or declares (a rough scan, enough for suggestions). */
export function namesInSource(source: string): string[] {
  const names = new Set<string>();
  for (const m of source.matchAll(/\bimport\s+(?:type\s+)?([^;]*?)\s+from\s/g)) {
    const clause = m[1];
    const braces = /\{([^}]*)\}/.exec(clause)?.[1] ?? "";
    for (const part of braces.split(",")) {
      const name = part.trim().replace(/^type\s+/, "").split(/\s+as\s+/).pop()?.trim();
      if (name && new RegExp(`^${IDENT}$`).test(name)) names.add(name);
    }
    const rest = clause.replace(/\{[^}]*\}/, "");
    for (const n of rest.matchAll(new RegExp(`(?:\\*\\s+as\\s+)?(${IDENT})`, "g"))) names.add(n[1]);
  }
  const decl = new RegExp(`\\b(?:class|function\\*?|const|let|var|enum|interface|type)\\s+(${IDENT})`, "g");
  for (const m of source.matchAll(decl)) names.add(m[1]);
  return [...names];
}

/**
 * The {@linkcode UnknownNameError} for `error` when it is a `ReferenceError: X is not defined` thrown in a file of
 * the project below `baseDir`; null for anything else. `batouNames`: the exports of the `"batou"` module.
 */
export function unknownNameError(error: unknown, baseDir: string, batouNames: string[]): UnknownNameError | null {
  if (!(error instanceof Error)) return null;
  // `new File(...)` without importing batou's File constructs the web platform's File.
  const shadowed = error instanceof TypeError ? /^Failed to construct '([\w$]+)'/.exec(error.message)?.[1] : undefined;
  const identifier = error instanceof ReferenceError ? /^(\S+) is not defined$/.exec(error.message)?.[1] : shadowed;
  if (!identifier || (shadowed && !batouNames.includes(shadowed))) return null;
  // Thrown by the project's own code (not by batou's, called from it): the innermost frame is a project file.
  const frame = stackFrames(error.stack).find((f) => f.path.startsWith("/"));
  if (!frame) return null;
  const file = relative(baseDir, frame.path);
  if (file.startsWith("..") || file.includes("node_modules")) return null;
  let source = "";
  try {
    source = Deno.readTextFileSync(frame.path);
  } catch { /* suggestions from batou and globals only */ }
  const own = namesInSource(source);
  if (shadowed && own.includes(shadowed)) return null;
  const globals = Object.getOwnPropertyNames(globalThis).filter((n) => /^[A-Za-z]/.test(n));
  let suggestion = "";
  let notImported = false;
  if (batouNames.includes(identifier)) {
    [suggestion, notImported] = [identifier, true];
  } else {
    suggestion = closestName(identifier, own) ?? closestName(identifier, batouNames) ??
      closestName(identifier, globals) ?? "";
    notImported = suggestion !== "" && !own.includes(suggestion) && batouNames.includes(suggestion);
  }
  const e = UnknownNameError.at(file, frame.line, identifier, suggestion, notImported);
  e.fullTraceback = normalizeStack(error.stack ?? "");
  return e;
}
