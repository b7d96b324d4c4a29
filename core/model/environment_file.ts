/**
 * Where an environment's config file is: `environments/<name>/environment.cfg` or `environments/<name>.cfg` (the
 * directory form wins). A module of its own, without the component model, so that a deployment can find and read
 * its hosts before the rest of the program is loaded (remote/controller/early_connect.ts).
 *
 * @module
 */
import { join } from "../runtime/path.ts";

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
