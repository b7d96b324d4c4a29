/**
 * Shared component libraries outside what a remote deployment syncs (core/model/import_map.ts: the project's
 * `deno.json` `imports`): each such library directory is synced, after the project, to
 * `<project on the target>/.batou-libs/<name>/` with the same agent sync (only what changed is sent; `.git`,
 * `work`, `.batou*` are skipped as in the project). The target's loader prefers that copy. Libraries inside the
 * synced tree (a `vendor/` folder, or a sibling folder inside `repository_root`) travel with it and need nothing
 * more. A library that is no longer mapped keeps its old copy on the target, unused.
 *
 * @module
 */
import { isAbsolute, join, relative } from "../../core/runtime/path.ts";
import type { Environment } from "../../core/model/environment.ts";
import { type ProjectImports, readProjectImports, SYNCED_LIBRARIES_DIR } from "../../core/model/import_map.ts";
import type { AgentConnection } from "../transport/connect.ts";
import { buildManifest, type ManifestEntry, syncProject, type SyncStats } from "../transport/sync.ts";
import { projectTargetDirectory, type SyncSource } from "./sync_source.ts";

/** A library directory that the project sync does not carry. */
export interface OutsideLibrary {
  /** Its name below `.batou-libs` on the target. */
  name: string;
  /** Its local directory (real path). */
  dir: string;
}

/**
 * The libraries of the project in `baseDir` whose directories lie outside `root` (what is synced), by name.
 * Libraries whose directory does not exist are left out (importing them fails with a clear error).
 */
export async function librariesOutside(baseDir: string, root: string): Promise<OutsideLibrary[]> {
  let imports: ProjectImports;
  try {
    imports = readProjectImports(baseDir);
  } catch {
    return []; // an unreadable deno.json: the component files that use it fail to load, with its error
  }
  const realRoot = await Deno.realPath(root);
  const out: OutsideLibrary[] = [];
  for (const entry of imports.entries) {
    if (entry.root === null) continue;
    let dir: string;
    try {
      dir = await Deno.realPath(entry.root);
      if (!(await Deno.stat(dir)).isDirectory) continue;
    } catch {
      continue;
    }
    const rel = relative(realRoot, dir);
    if (rel === "" || (rel !== ".." && !rel.startsWith("../") && !isAbsolute(rel))) continue;
    out.push({ name: entry.name, dir });
  }
  return out;
}

/** Builds the manifests of the libraries once per run and syncs them to each connected host. */
export class LibrarySync {
  #libraries: Promise<{ library: OutsideLibrary; manifest: Promise<ManifestEntry[]> }[]> | null = null;

  /**
   * Syncs the libraries of `env`'s project outside `source` to `conn`'s target, then points the agent back at
   * `target_directory` (where the deployment goes on). Returns each library's sync figures.
   */
  async sync(
    conn: AgentConnection,
    env: Environment,
    source: SyncSource,
  ): Promise<{ name: string; stats: SyncStats }[]> {
    this.#libraries ??= librariesOutside(env.baseDir, source.root).then((libs) =>
      libs.map((library) => ({ library, manifest: buildManifest(library.dir) }))
    );
    const libraries = await this.#libraries;
    if (!libraries.length) return [];
    const base = join(projectTargetDirectory(env.targetDirectory, source), SYNCED_LIBRARIES_DIR);
    const done: { name: string; stats: SyncStats }[] = [];
    try {
      for (const { library, manifest } of libraries) {
        await conn.peer.call("ensureBase", { targetDirectory: join(base, library.name) });
        done.push({
          name: library.name,
          stats: await syncProject(conn.peer, library.dir, { manifest: await manifest }),
        });
      }
    } finally {
      await conn.peer.call("ensureBase", { targetDirectory: env.targetDirectory });
    }
    return done;
  }
}
