/**
 * What a remote deployment sends to its targets, as batou's `update_method` and `repository_root` decide, and where
 * on the target the project then lies (batou's `deployment_base`):
 *
 * - `rsync` (the default) and `rsync-ext`: the directory `repository_root` (relative to the project directory,
 *   default the project directory itself) with everything in it;
 * - `git-bundle`, `git-pull`: the git repository the project is in (its top level), tracked files only;
 * - `hg-bundle`, `hg-pull`: the mercurial repository (`hg root`), tracked files only.
 *
 * It lands in `target_directory`; the project is at `target_directory/<project relative to that root>`. The transfer
 * is always the agent's sync (remote/transport/sync.ts), never rsync, git or hg on the target, so `repository_url`
 * (the URL batou's `*-pull` methods pull from on the target) has no effect: a warning says so. Secrets files of
 * the project are never sent, wherever the project lies in the repository.
 *
 * @module
 */
import { isAbsolute, join, relative, resolve } from "../../core/runtime/path.ts";
import type { Environment } from "../../core/model/environment.ts";
import { ConfigurationError, type ReportingError } from "../../core/model/errors.ts";
import { runCmd } from "../../core/model/cmd.ts";
import { isSecretPath } from "../contract/sync_manifest.ts";

/** What to send: a local directory, the project's place in it, and (git/hg) the tracked paths. */
export interface SyncSource {
  /** The local directory sent to `target_directory`. */
  root: string;
  /** The project directory relative to `root` (`""` when it is the root). */
  base: string;
  /** Tracked files relative to `root`, with their parent directories; null: everything is sent. */
  tracked: Set<string> | null;
  /** The update method it was computed for. */
  method: string;
}

/** Tracked paths and all their parents. */
function withParents(files: string[]): Set<string> {
  const out = new Set<string>();
  for (const f of files) {
    if (!f) continue;
    const parts = f.split("/");
    for (let i = 1; i <= parts.length; i++) out.add(parts.slice(0, i).join("/"));
  }
  return out;
}

async function tool(line: string, cwd: string): Promise<string | null> {
  const r = await runCmd(`LANG=C LC_ALL=C ${line}`, { cwd, ignoreReturnCode: true }).catch(() => null);
  return r && r.code === 0 ? r.stdout : null;
}

/**
 * The sync source of a remote deployment of `env` (null for local ones), and the errors that stop it: a
 * repository the update method needs but that is missing, or a project outside `repository_root`. Warns about
 * settings that have no effect.
 */
export async function resolveSyncSource(
  env: Environment,
  warn: (message: string) => void,
): Promise<{ source: SyncSource | null; errors: ReportingError[] }> {
  if (env.connectMethod === "local") return { source: null, errors: [] };
  const method = env.updateMethod ?? "rsync";
  const fail = (message: string) => ({ source: null, errors: [new ConfigurationError(message)] });
  if (env.repositoryUrl) {
    warn(
      `repository_url = ${env.repositoryUrl} has no effect: the repository is sent from this machine by the agent's ` +
        `sync (targets need no git or hg)`,
    );
  }
  let root: string;
  let tracked: Set<string> | null = null;
  if (method === "rsync" || method === "rsync-ext") {
    const configured = env.repositoryRoot ?? ".";
    root = isAbsolute(configured) ? configured : resolve(env.baseDir, configured);
  } else {
    const git = method.startsWith("git-");
    if (env.repositoryRoot) {
      warn(`repository_root has no effect with update_method = ${method} (the repository root is used)`);
    }
    const top = git ? await tool("git rev-parse --show-toplevel", env.baseDir) : await tool("hg root", env.baseDir);
    if (top === null) {
      return fail(`update_method = ${method} needs the project in a ${git ? "git" : "mercurial"} repository`);
    }
    root = top.trim();
    const files = git ? await tool("git ls-files -z", root) : await tool("hg files -0", root);
    if (files === null) return fail(`Cannot list the tracked files of ${root} (update_method = ${method})`);
    tracked = withParents(files.split("\0"));
    if (git && env.branch) {
      const current = (await tool("git rev-parse --abbrev-ref HEAD", root))?.trim();
      if (current && current !== env.branch) {
        warn(`branch = ${env.branch}: the working tree is sent, which is on branch ${current}`);
      }
    }
  }
  try {
    root = await Deno.realPath(root);
  } catch {
    return fail(`repository_root ${root} does not exist`);
  }
  const base = relative(root, await Deno.realPath(env.baseDir));
  if (base === ".." || base.startsWith("../") || isAbsolute(base)) {
    return fail(`The project directory ${env.baseDir} is not inside repository_root ${root}`);
  }
  return { source: { root, base: base === "." ? "" : base, tracked, method }, errors: [] };
}

/** The manifest filter of `source`: paths outside the tracked set, and the project's secrets files. */
export function syncSourceExclude(source: SyncSource): (relPath: string) => boolean {
  const prefix = source.base ? source.base + "/" : "";
  return (rel) => {
    if (source.tracked && !source.tracked.has(rel)) return true;
    return prefix !== "" && rel.startsWith(prefix) && isSecretPath(rel.slice(prefix.length));
  };
}

/** The target directory of the project below `target_directory` (as given, `~` kept for the agent). */
export function projectTargetDirectory(targetDirectory: string, source: SyncSource): string {
  return source.base ? join(targetDirectory, source.base) : targetDirectory;
}
