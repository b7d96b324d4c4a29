/**
 * `Clone`: a git working copy that follows a branch, a tag or a revision
 * (batou's `batou.lib.git.Clone`; also exported as `GitClone` and `git.Clone`).
 *
 * - A missing clone, or one whose `origin` URL differs from `url`, is cloned afresh
 *   (the target directory is emptied first).
 * - A branch is really checked out (`git checkout -B <branch> origin/<branch>`), so switching
 *   branches works and an up-to-date clone is left alone. Incoming commits are detected with
 *   `git ls-remote`, without touching the clone; local commits that are only ahead of the remote
 *   are reported, not reset.
 * - Local changes (modified or untracked files) are never clobbered unless `clobber: true`:
 *   the deploy fails with `RuntimeError: Refusing to clobber dirty work directory.`
 * - `vcsUpdate: false` clones once and then leaves the working copy alone.
 * - Submodules are updated (`git submodule update --init --recursive`).
 *
 * @example
 * ```ts
 * import { Component, git } from "batou";
 * export class Site extends Component {
 *   override configure() {
 *     this.add(new git.Clone("https://example.com/site.git", { branch: "main", target: "site" }));
 *   }
 * }
 * ```
 * @module
 */
import { join } from "../core/runtime/path.ts";
import { Component } from "../core/model/component.ts";
import { joinCommand } from "../core/model/cmd.ts";
import { ConfigurationError, UpdateNeeded } from "../core/model/errors.ts";
import { output } from "../core/model/output.ts";
import { Directory } from "./file.ts";
import { maskPassword } from "./download.ts";
import { ensurePathNonexistent, lstatOrNull, statOrNull } from "../core/runtime/fsops.ts";

/** Python's `RuntimeError`: a deployment step refuses to go on. */
export class RuntimeError extends Error {
  override name = "RuntimeError";
}

/** Makes `path` an empty directory; keeps the directory itself when it exists (it may be the cwd). */
export async function ensureEmptyDirectory(path: string): Promise<void> {
  if (!(await statOrNull(path))?.isDirectory) {
    await ensurePathNonexistent(path);
    await Deno.mkdir(path, { recursive: true });
    return;
  }
  for await (const entry of Deno.readDir(path)) await ensurePathNonexistent(join(path, entry.name));
}

/** Options of {@linkcode Clone}. Give exactly one of `branch`, `tag` and `revision`. */
export interface CloneOptions {
  /** Where the working copy lives (relative to the work directory; default the work directory). */
  target?: string;
  /** Follow this branch of `origin`. */
  branch?: string | null;
  /** Check out this tag (detached). */
  tag?: string | null;
  /** Check out this commit (detached). */
  revision?: string | null;
  /** Update an existing clone (default true); false: clone once, then leave it alone. */
  vcsUpdate?: boolean;
  /** Throw away local changes and untracked files when updating (default false). */
  clobber?: boolean;
  /** Environment variables for every git command (e.g. `GIT_SSH_COMMAND`). */
  env?: Record<string, string>;
}

/** A git clone of `url` at a branch, tag or revision. */
export class Clone extends Component {
  static override namevar = "url";
  url = "";
  target = ".";
  branch: string | null = null;
  tag: string | null = null;
  revision: string | null = null;
  vcsUpdate = true;
  clobber = false;
  env: Record<string, string> = {};
  #forceClone = false;

  constructor(url: string, options: CloneOptions = {}) {
    super(url, options as Record<string, unknown>);
  }

  override configure(): void {
    const given = [this.revision, this.branch, this.tag].filter((v) => v).length;
    if (given !== 1) {
      throw ConfigurationError.create(
        `Clone(${maskPassword(this.url)}) needs exactly one of revision, branch or tag`,
        this,
      );
    }
    this.target = this.map(this.target);
    this.add(new Directory(this.target, { leading: true }));
  }

  /** Runs git with `args` in the working copy. */
  async git(args: string[], opts: { ignoreReturnCode?: boolean; cwd?: string } = {}) {
    return await this.cmd(joinCommand(["git", ...args]), {
      cwd: opts.cwd ?? this.target,
      env: { GIT_TERMINAL_PROMPT: "0", LC_ALL: "C", ...this.env },
      expand: false,
      silent: true,
      ignoreReturnCode: opts.ignoreReturnCode,
    });
  }

  async #out(args: string[]): Promise<string | null> {
    const result = await this.git(args, { ignoreReturnCode: true });
    return result.code === 0 ? result.stdout.trim() : null;
  }

  /** The URL of `origin`, or null. */
  remoteUrl(): Promise<string | null> {
    return this.#out(["remote", "get-url", "origin"]);
  }

  /** The checked-out commit, or null. */
  currentRevision(): Promise<string | null> {
    return this.#out(["rev-parse", "--verify", "-q", "HEAD"]);
  }

  /** The checked-out branch (`HEAD` when detached), or null. */
  currentBranch(): Promise<string | null> {
    return this.#out(["rev-parse", "--abbrev-ref", "HEAD"]);
  }

  /** Whether there are modified, staged or untracked (not ignored) files. */
  async hasChanges(): Promise<boolean> {
    return ((await this.git(["status", "--porcelain"])).stdout.trim()) !== "";
  }

  /** Whether the checked-out branch has commits that its upstream lacks. */
  async hasOutgoingChangesets(): Promise<boolean> {
    return (await this.git(["status"], { ignoreReturnCode: true })).stdout.includes("Your branch is ahead of");
  }

  /** The untracked files (not ignored ones), relative to the working copy; odd names read verbatim. */
  async untrackedFiles(): Promise<string[]> {
    const { stdout } = await this.git(["status", "--porcelain", "-z", "--untracked-files=all"]);
    const files: string[] = [];
    const fields = stdout.split("\0");
    for (let i = 0; i < fields.length; i++) {
      const field = fields[i];
      if (field.length < 4) continue;
      const status = field.slice(0, 2);
      if (status === "??") files.push(field.slice(3));
      // Renames and copies are followed by the original name.
      if (status[0] === "R" || status[0] === "C") i++;
    }
    return files;
  }

  /** The commit that `ref` names on `origin` (tags peeled), or null. */
  async #remoteCommit(ref: string): Promise<string | null> {
    const out = await this.#out(["ls-remote", "origin", ref, `${ref}^{}`]);
    if (!out) return null;
    let commit: string | null = null;
    for (const line of out.split("\n")) {
      const [sha, name] = line.split("\t");
      if (name === `${ref}^{}`) return sha;
      if (name === ref) commit = sha;
    }
    return commit;
  }

  async #isAncestor(ancestor: string, of: string): Promise<boolean> {
    return (await this.git(["merge-base", "--is-ancestor", ancestor, of], { ignoreReturnCode: true })).code === 0;
  }

  override async verify(): Promise<void> {
    this.#forceClone = false;
    if (!(await statOrNull(this.target))?.isDirectory || !(await lstatOrNull(join(this.target, ".git")))) {
      this.#forceClone = true;
      throw new UpdateNeeded(`no clone at ${this.target}`);
    }
    if ((await this.remoteUrl()) !== this.url) {
      this.#forceClone = true;
      throw new UpdateNeeded("the clone has another origin");
    }
    if (!this.vcsUpdate) return;
    if (await this.hasOutgoingChangesets()) output.annotate(`Git clone at ${this.target} has outgoing changesets.`);
    if (await this.hasChanges()) {
      if (this.clobber) {
        output.annotate(`Git clone at ${this.target} is dirty, going to lose changes.`, { red: true });
        throw new UpdateNeeded("dirty work directory");
      }
      output.annotate(
        `Git clone at ${this.target} is dirty - refusing to clobber. Use \`clobber: true\` if this is intentional.`,
        { red: true },
      );
      throw new RuntimeError("Refusing to clobber dirty work directory.");
    }
    const head = await this.currentRevision();
    if (this.revision) {
      const wanted = await this.#out(["rev-parse", "--verify", "-q", `${this.revision}^{commit}`]);
      if (!wanted || wanted !== head) throw new UpdateNeeded(`not at revision ${this.revision}`);
      return;
    }
    if (this.branch && (await this.currentBranch()) !== this.branch) {
      throw new UpdateNeeded(`not on branch ${this.branch}`);
    }
    const ref = this.branch ? `refs/heads/${this.branch}` : `refs/tags/${this.tag}`;
    const remote = await this.#remoteCommit(ref);
    if (!remote) throw new UpdateNeeded(`${ref} not found on origin`);
    if (remote === head) return;
    if (this.branch && head && (await this.#isAncestor(remote, head))) {
      output.annotate(`Git clone at ${this.target} is ahead of origin/${this.branch}; leaving it.`);
      return;
    }
    throw new UpdateNeeded(`${ref} is at ${remote}, the clone at ${head}`);
  }

  override async update(): Promise<void> {
    let justCloned = false;
    if (this.#forceClone) {
      await ensureEmptyDirectory(this.target);
      await this.git(["clone", this.url, this.target], { cwd: this.workdir });
      justCloned = true;
    } else {
      // Only reached when the tree is clean or clobbering is allowed.
      await this.git(["reset", "-q", "--hard"]);
      await this.git(["clean", "-q", "-f", "-d"]);
      await this.git(["fetch", "-q", ...(this.tag ? ["--tags"] : []), "origin"]);
    }
    if (this.branch) {
      await this.git(["checkout", "-q", "-f", "-B", this.branch, `origin/${this.branch}`]);
    } else if (this.tag) {
      await this.git(["checkout", "-q", "-f", "--detach", `refs/tags/${this.tag}`]);
    } else {
      await this.git(["checkout", "-q", "-f", "--detach", this.revision!]);
    }
    if (justCloned || (await lstatOrNull(join(this.target, ".gitmodules")))) {
      await this.git(["submodule", "update", "-q", "--init", "--recursive"]);
    }
  }

  /** The commit time (ms) of the checked-out commit, or null without a clone. */
  override async lastUpdated(): Promise<number | null> {
    if (!(await lstatOrNull(join(this.target, ".git")))) return null;
    const out = await this.#out(["show", "-s", "--format=%ct", "HEAD"]);
    return out ? Number(out) * 1000 : null;
  }

  override get breadcrumb(): string {
    return `Clone('${maskPassword(this.url)}')`;
  }
}

/** `Clone` under the name that says what it is. */
export { Clone as GitClone };

/** The git family as a namespace: `git.Clone`. */
export const git: { Clone: typeof Clone } = { Clone };
