/**
 * How the user started batou, so that messages can name a command that works: `batou` when a `batou` on PATH is
 * this program (a compiled binary or a `deno install` wrapper of this checkout), else the binary's path, else
 * `deno task --config <checkout>/deno.json batou` or `deno run -A <checkout>/main.ts`, the way it was run.
 *
 * @module
 */
import { dirname, isAbsolute, join, relative, resolve } from "../core/runtime/path.ts";
import { shellQuote } from "../core/model/cmd.ts";
import { isCompiled, pathDirs } from "../core/runtime/program.ts";

/** What {@linkcode batouCommand} needs to know about the running program (see {@linkcode currentInvocation}). */
export interface Invocation {
  /** True in a `deno compile`d binary. */
  compiled: boolean;
  /** `Deno.execPath()`: the binary, or the deno executable in source mode. */
  execPath: string;
  /** The checkout's `main.ts` (source mode). */
  mainPath: string;
  /** True when started by `deno task` (deno sets `INIT_CWD` and a `deno/` user agent). */
  viaTask: boolean;
  /** The directories of `PATH`. */
  pathDirs: string[];
  /** Reads a file as text, or null when it cannot be read (to recognise a `deno install` wrapper). */
  readText(path: string): string | null;
  /** The real path of a file, or null when it does not exist. */
  realPath(path: string): string | null;
}

/** `path` as typed in `dir`: relative when it is below `dir` or its parent, else absolute. */
function pathFrom(dir: string, path: string): string {
  const rel = relative(dir, path);
  if (rel.startsWith("../..") || isAbsolute(rel)) return path;
  return rel.startsWith("..") ? rel : `./${rel}`;
}

function fileUrl(path: string): string {
  return "file://" + path.split("/").map(encodeURIComponent).join("/");
}

/** Whether the `batou` found on PATH is this program. */
function batouOnPathIsThis(inv: Invocation): boolean {
  for (const d of inv.pathDirs) {
    if (!d || !isAbsolute(d)) continue;
    const candidate = join(d, "batou");
    const real = inv.realPath(candidate);
    if (real === null) continue;
    if (inv.compiled) return real === inv.realPath(inv.execPath);
    // A `deno install` wrapper: a small shell script that runs this checkout's main.ts.
    const text = inv.readText(candidate);
    return text !== null && text.length < 4096 &&
      (text.includes(fileUrl(inv.mainPath)) || text.includes(`'${inv.mainPath}'`));
  }
  return false;
}

/** The command a user types in `dir` to run this batou (without arguments), e.g. `batou` or `./batou`. */
export function batouCommand(inv: Invocation, dir: string): string {
  if (batouOnPathIsThis(inv)) return "batou";
  if (inv.compiled) return shellQuote(pathFrom(dir, inv.execPath));
  const checkout = dirname(inv.mainPath);
  if (inv.viaTask) return `deno task --config ${shellQuote(pathFrom(dir, join(checkout, "deno.json")))} batou`;
  return `deno run -A ${shellQuote(pathFrom(dir, inv.mainPath))}`;
}

/** The `Next:` line after creating a project in `dir` from `cwd`: `cd DIR && <batou> deploy dev` (no `cd .`). */
export function nextSteps(inv: Invocation, cwd: string, dir: string): string {
  const rel = relative(resolve(cwd), resolve(dir));
  const deploy = `${batouCommand(inv, dir)} deploy dev`;
  if (rel === "") return deploy;
  return `cd ${shellQuote(rel.startsWith("../..") ? dir : rel)} && ${deploy}`;
}

/** The running program's {@linkcode Invocation}. */
export function currentInvocation(): Invocation {
  const here = import.meta.dirname ?? ".";
  return {
    compiled: isCompiled(),
    execPath: Deno.execPath(),
    mainPath: resolve(here, "..", "main.ts"),
    viaTask: !!Deno.env.get("INIT_CWD") && (Deno.env.get("npm_config_user_agent") ?? "").startsWith("deno/"),
    pathDirs: pathDirs(),
    readText(path) {
      try {
        return Deno.readTextFileSync(path);
      } catch {
        return null;
      }
    },
    realPath(path) {
      try {
        return Deno.realPathSync(path);
      } catch {
        return null;
      }
    },
  };
}
