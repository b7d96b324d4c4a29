/**
 * Where an environment's config file is: `environments/<name>/environment.cfg` or `environments/<name>.cfg` (the
 * directory form wins). A module of its own, without the component model, so that a deployment can find and read
 * its hosts before the rest of the program is loaded (remote/controller/early_connect.ts), and one reader of it for
 * both that early reading and the {@linkcode Environment}: the file is read and parsed once per process.
 *
 * @module
 */
import { join } from "../runtime/path.ts";
import { ConfigDocument } from "../formats/configparser.ts";

/** Path of the environment's config file relative to `baseDir`, or null when the environment does not exist. */
export function environmentConfigPath(baseDir: string, name: string): string | null {
  // Names are plain file names: no separators, and none that would leave environments/ ("..", ".hidden").
  if (!/^[A-Za-z0-9_-][A-Za-z0-9_.-]*$/.test(name)) return null;
  for (const p of [join("environments", name, "environment.cfg"), join("environments", `${name}.cfg`)]) {
    try {
      if (Deno.statSync(join(baseDir, p)).isFile) return p;
    } catch { /* try next */ }
  }
  return null;
}

/** An environment's config file, read and parsed. */
export interface EnvironmentConfig {
  /** The path relative to the project directory (as in messages). */
  path: string;
  /** The parsed document. */
  config: ConfigDocument;
}

let last: { key: string; result: EnvironmentConfig | Error } | null = null;

/**
 * Reads and parses the config file of environment `name` below `baseDir`; null when the environment does not exist.
 * Throws the parser's {@linkcode ConfigParseError} for a malformed file. The result is kept for the next call while
 * the file's path, inode, size and modification time stay the same, so the early connect and the environment share
 * one reading; treat the document as read-only.
 */
export function readEnvironmentConfig(baseDir: string, name: string): EnvironmentConfig | null {
  const path = environmentConfigPath(baseDir, name);
  if (!path) return null;
  const full = join(baseDir, path);
  const st = Deno.statSync(full);
  const key = JSON.stringify([full, st.ino, st.size, st.mtime?.getTime() ?? null]);
  if (last?.key !== key) {
    let result: EnvironmentConfig | Error;
    try {
      result = { path, config: ConfigDocument.parse(Deno.readTextFileSync(full), path) };
    } catch (e) {
      if (!(e instanceof Error)) throw e;
      result = e;
    }
    last = { key, result };
  }
  if (last.result instanceof Error) throw last.result;
  return last.result;
}
