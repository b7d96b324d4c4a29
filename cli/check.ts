/**
 * `batou check ENV`: type-checks the project's component files with a TypeScript checker, `deno check`, and reports
 * the errors with project-relative `file:line:column`, so that `new Supervisr()` or `new Program("x", { comand })`
 * is found before a deployment starts (and with the checker's "Did you mean ...?").
 *
 * The checker is the running deno (source mode) or a `deno` on PATH. The types of `"batou"` come from batou's
 * sources: the running checkout (source mode), else the project's `deno.json` when its `"batou"` import names a
 * file that exists (what `batou init` writes from a checkout). Without either, the command says how to get them.
 * The import map is written to a temporary config ({@linkcode batouImportMap}), so the project's files are never
 * changed (no lock file either).
 *
 * @module
 */
import { dirname, join, resolve } from "../core/runtime/path.ts";
import { fileURLToPath } from "node:url";
import { output } from "../core/model/output.ts";
import { componentFiles } from "../core/model/loader.ts";
import { Environment, environmentNames } from "../core/model/environment.ts";
import { MissingEnvironment } from "../core/model/errors.ts";
import { statOrNullSync } from "../core/runtime/fsops.ts";
import { findOnPath, isCompiled } from "../core/runtime/program.ts";
import { COMMANDS } from "./commands.ts";
import { parseCommand } from "./parse.ts";

/** How to get a checker, for the message when none is found. */
export const CHECKER_HINT = "batou check needs Deno as its TypeScript checker: install it (`npm i -g deno` or " +
  "`curl -fsSL https://deno.land/install.sh | sh`, see https://docs.deno.com) so that `deno` is on PATH.";

/** How to get batou's types, for the message when a compiled batou has no sources beside it. */
export const TYPES_HINT = 'batou check needs batou\'s TypeScript sources for the types of "batou": run it from a ' +
  'checkout (`deno run -A /path/to/batou/main.ts check ENV`), or point the "batou" import of the project\'s ' +
  "deno.json at the checkout's mod.ts.";

/** The folder of batou's sources (with mod.ts) when this program runs from them, else null (a compiled binary). */
export function batouSourceRoot(): string | null {
  if (isCompiled()) return null;
  const here = import.meta.dirname ?? dirname(fileURLToPath(import.meta.url));
  const root = resolve(here, "..");
  return statOrNullSync(join(root, "mod.ts"))?.isFile ? root : null;
}

/**
 * The import map that gives component files the types of what batou serves them: `"batou"` (and `"batou/core"`,
 * `"batou/lib"`) is `mod.ts`, `"batou/lib/<family>"` is `lib/<family>.ts` of the checkout at `root`.
 */
export function batouImportMap(root: string): Record<string, string> {
  const map: Record<string, string> = {
    "batou": join(root, "mod.ts"),
    "batou/core": join(root, "mod.ts"),
    "batou/lib": join(root, "mod.ts"),
  };
  const families: string[] = [];
  try {
    for (const e of Deno.readDirSync(join(root, "lib"))) {
      if (e.isFile && e.name.endsWith(".ts") && e.name !== "mod.ts") families.push(e.name.slice(0, -3));
    }
  } catch { /* no lib folder: "batou" only */ }
  for (const f of families.sort()) map[`batou/lib/${f}`] = join(root, "lib", `${f}.ts`);
  return map;
}

/** The deno that checks: the running one in source mode, else `deno` on PATH; null when there is none. */
export function findChecker(): string | null {
  if (!isCompiled()) return Deno.execPath();
  return findOnPath("deno");
}

/** The project's deno.json when its `"batou"` import names an existing file (a checkout's mod.ts), else null. */
function projectConfigWithTypes(baseDir: string): string | null {
  const path = join(baseDir, "deno.json");
  try {
    const config = JSON.parse(Deno.readTextFileSync(path)) as { imports?: Record<string, string> };
    const target = config.imports?.["batou"];
    if (!target) return null;
    const file = target.startsWith("file://") ? fileURLToPath(target) : resolve(baseDir, target);
    return statOrNullSync(file)?.isFile ? path : null;
  } catch {
    return null;
  }
}

/** One diagnostic of the checker: its place (project-relative when in the project), code and text. */
export interface Diagnostic {
  place: string;
  code: string;
  message: string;
  /** The source line and the marker under it, as the checker shows them. */
  snippet: string[];
}

/** Reads the diagnostics of `deno check` output (`TS2552 [ERROR]: ...` ... `at file:///...:6:18`). */
export function parseDiagnostics(text: string, baseDir: string): Diagnostic[] {
  const out: Diagnostic[] = [];
  let current: Diagnostic | null = null;
  const base = baseDir.endsWith("/") ? baseDir : `${baseDir}/`;
  for (const line of text.split("\n")) {
    const head = /(TS\d+) \[ERROR\]: (.*)$/.exec(line);
    if (head) {
      current = { place: "", code: head[1], message: head[2], snippet: [] };
      continue;
    }
    if (!current) continue;
    const at = /^\s+at (\S+):(\d+):(\d+)$/.exec(line);
    if (at) {
      let file = at[1].startsWith("file://") ? fileURLToPath(at[1]) : at[1];
      if (file.startsWith(base)) file = file.slice(base.length);
      current.place = `${file}:${at[2]}:${at[3]}`;
      out.push(current);
      current = null;
    } else if (/^\s/.test(line)) {
      if (line.trim()) current.snippet.push(line);
    } else if (line.trim()) {
      current.message += ` ${line.trim()}`;
    }
  }
  return out;
}

/** `batou check ENV` in project `baseDir`. Returns the exit code. */
export async function checkCommand(args: string[], baseDir: string): Promise<number> {
  const parsed = await parseCommand(["check"], COMMANDS.check, args);
  if (parsed === null) return 0;
  const name = parsed.positionals[0].replace(/\.cfg$/, "");
  if (!Environment.configPath(baseDir, name)) {
    const isProject = statOrNullSync(join(baseDir, "environments"))?.isDirectory ?? false;
    MissingEnvironment.of(name, environmentNames(baseDir), isProject).report(output);
    return 1;
  }
  const files = componentFiles(baseDir);
  if (!files.length) {
    output.line("No component files (components/*/component.ts) to check.");
    return 0;
  }
  const deno = findChecker();
  if (!deno) {
    output.error(CHECKER_HINT);
    return 1;
  }
  const root = batouSourceRoot();
  let config = root ? null : projectConfigWithTypes(baseDir);
  if (!root && !config) {
    output.error(TYPES_HINT);
    return 1;
  }
  const tmp = root ? await Deno.makeTempDir({ prefix: "batou-check-" }) : null;
  try {
    if (tmp) {
      config = join(tmp, "deno.json");
      await Deno.writeTextFile(config, JSON.stringify({ imports: batouImportMap(root!) }, null, 2) + "\n");
    }
    const rel = files.map((f) => f.slice(baseDir.length + 1));
    output.line(`batou check ${name}: type-checking ${files.length} component file(s) with ${deno}`);
    const result = await new Deno.Command(deno, {
      args: ["check", "--quiet", "--no-lock", "--config", config!, ...rel],
      cwd: baseDir,
      env: { NO_COLOR: "1" },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    const dec = new TextDecoder();
    const text = dec.decode(result.stdout) + dec.decode(result.stderr);
    const diagnostics = parseDiagnostics(text, baseDir);
    for (const d of diagnostics) {
      output.line(`${d.place}: ${d.code} ${d.message}`, { red: true });
      for (const s of d.snippet) output.line(s);
    }
    if (result.code === 0) {
      output.line(`No type errors in ${files.length} component file(s).`);
      return 0;
    }
    if (!diagnostics.length) {
      // Not a type error (e.g. a module that cannot be found): the checker's own words, with project paths.
      output.line(text.replaceAll(`file://${baseDir}/`, "").replaceAll(`${baseDir}/`, "").trimEnd());
      output.error("The type check failed.");
      return 1;
    }
    output.error(`${diagnostics.length} type error(s) in component files.`);
    return 1;
  } finally {
    if (tmp) await Deno.remove(tmp, { recursive: true });
  }
}
