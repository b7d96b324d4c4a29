/**
 * The running program and what it finds on this machine: whether it is a `deno compile` binary, and the
 * executables on `PATH`.
 *
 * @module
 */
import { delimiter, join } from "./path.ts";
import { statOrNullSync } from "./fsops.ts";

/** Whether this program runs as a `deno compile` binary (its modules are embedded under `/deno-compile-…`). */
export function isCompiled(): boolean {
  return import.meta.url.includes("/deno-compile-");
}

/** The directories of this process's `PATH`, in order. */
export function pathDirs(): string[] {
  return (Deno.env.get("PATH") ?? "").split(delimiter);
}

/** The first executable file `name` in `dirs` (by default {@linkcode pathDirs}), or null. */
export function findOnPath(name: string, dirs: string[] = pathDirs()): string | null {
  for (const dir of dirs) {
    if (!dir) continue;
    const path = join(dir, name);
    const st = statOrNullSync(path);
    if (st?.isFile && ((st.mode ?? 0o111) & 0o111)) return path;
  }
  return null;
}
