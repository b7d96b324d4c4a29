/**
 * Path sandboxes (`[vfs] sandbox = Developer|Map`): absolute paths used by
 * components are redirected, e.g. into the work directory on a developer machine.
 *
 * @module
 */
import { dirname, isAbsolute, join } from "../runtime/path.ts";

/** Maps an absolute path to where it really lives. */
export interface PathMapper {
  map(path: string): string;
}

/** `Developer`: absolute paths outside the work dir go to `work/_/<path>`; the mapped path's parent is created. */
export class DeveloperSandbox implements PathMapper {
  constructor(readonly workdirBase: string) {}

  map(path: string): string {
    if (!isAbsolute(path) || path === this.workdirBase || path.startsWith(this.workdirBase.replace(/\/+$/, "") + "/")) {
      return path;
    }
    const target = join(this.workdirBase, "_", path.replace(/^\/+/, ""));
    // As batou: the mapped path's parent exists, so `File("/etc/app/x.conf")` can be written without `leading`.
    Deno.mkdirSync(dirname(target), { recursive: true });
    return target;
  }
}

/** `Map`: prefix replacements from the `[vfs]` section (keys starting with `/`), longest first. */
export class MapSandbox implements PathMapper {
  readonly mappings: [string, string][];

  constructor(section: Record<string, string>) {
    this.mappings = Object.entries(section).filter(([k]) => k.startsWith("/")).sort((a, b) =>
      b[0].length - a[0].length
    );
  }

  map(path: string): string {
    for (const [from, to] of this.mappings) {
      if (path === from || path.startsWith(from.endsWith("/") ? from : from + "/")) return to + path.slice(from.length);
    }
    return path;
  }
}
