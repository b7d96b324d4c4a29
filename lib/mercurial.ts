/**
 * `hg.Clone`: a mercurial working copy at a branch or a revision (batou's `batou.lib.mercurial.Clone`).
 *
 * - A missing clone is cloned (`hg clone -u <rev> <url> .`).
 * - With `branch`: updated when the working copy is on another branch or the source has incoming changesets.
 *   With `revision`: when the parent is another changeset (short or 40-digit ids).
 * - Local changes are lost on update, with a red note, as in batou (`hg update --clean`, untracked files removed);
 *   outgoing changesets are reported.
 * - `vcsUpdate: false` clones once and then leaves the working copy alone.
 *
 * @example
 * ```ts
 * import { Component, hg } from "batou";
 * export class Site extends Component {
 *   override configure() {
 *     this.add(new hg.Clone("https://example.com/site", { branch: "default", target: "site" }));
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
import { lstatOrNull } from "../core/runtime/fsops.ts";
import { Directory } from "./file.ts";
import { maskPassword } from "./download.ts";

/** Options of {@linkcode Clone}. Give exactly one of `branch` and `revision`. */
export interface HgCloneOptions {
  /** Where the working copy lives (relative to the work directory; default the work directory). */
  target?: string;
  /** Follow this branch. */
  branch?: string | null;
  /** Stay at this changeset. */
  revision?: string | null;
  /** Update an existing clone (default true); false: clone once, then leave it alone. */
  vcsUpdate?: boolean;
}

/** A mercurial clone of `url` at a branch or revision. */
export class Clone extends Component {
  static override namevar = "url";
  url = "";
  target = ".";
  branch: string | null = null;
  revision: string | null = null;
  vcsUpdate = true;

  constructor(url: string, options: HgCloneOptions = {}) {
    super(url, options as Record<string, unknown>);
  }

  override configure(): void {
    if (!(this.revision || this.branch) || (this.revision && this.branch)) {
      throw ConfigurationError.create(`Clone(${maskPassword(this.url)}) needs exactly one of revision or branch`, this);
    }
    this.target = this.map(this.target);
    this.add(new Directory(this.target, { leading: true }));
  }

  /** The branch or revision to update to. */
  get revisionOrBranch(): string {
    return (this.revision || this.branch)!;
  }

  /** Runs hg with `args` in the working copy. */
  async hg(args: string[], opts: { ignoreReturnCode?: boolean } = {}) {
    return await this.cmd(joinCommand(["hg", "--noninteractive", ...args]), {
      cwd: this.target,
      env: { LANG: "C", LC_ALL: "C", HGPLAIN: "1" },
      expand: false,
      silent: true,
      ignoreReturnCode: opts.ignoreReturnCode,
    });
  }

  /** Whether `hg <args>` finds something (exit 0) or nothing (exit 1); other codes are errors. */
  async #found(args: string[]): Promise<boolean> {
    const r = await this.hg(args, { ignoreReturnCode: true });
    if (r.code === 0) return true;
    if (r.code === 1) return false;
    await this.hg(args); // throws the CmdExecutionError with the output
    return false;
  }

  /** The working copy's parent changeset (12 digits, or 40 with `long`), or null. */
  async currentRevision(long = false): Promise<string | null> {
    const r = await this.hg(["log", "-r", ".", "--template", long ? "{node}" : "{node|short}"], {
      ignoreReturnCode: true,
    });
    return r.code === 0 && r.stdout.trim() ? r.stdout.trim() : null;
  }

  /** The working copy's branch. */
  async currentBranch(): Promise<string> {
    return (await this.hg(["branch"])).stdout.trim();
  }

  /** Whether the source has changesets the clone lacks. */
  hasIncomingChangesets(): Promise<boolean> {
    return this.#found(["incoming", "-q", "-l1"]);
  }

  /** Whether the clone has changesets the source lacks. */
  hasOutgoingChangesets(): Promise<boolean> {
    return this.#found(["outgoing", "-q", "-l1"]);
  }

  /** Whether there are modified, added, removed or untracked files. */
  async hasChanges(): Promise<boolean> {
    return (await this.hg(["status"])).stdout.trim() !== "";
  }

  /** The untracked files, relative to the working copy. */
  async untrackedFiles(): Promise<string[]> {
    const { stdout } = await this.hg(["status", "-u", "-n", "-0"]);
    return stdout.split("\0").filter((f) => f !== "");
  }

  override async verify(): Promise<void> {
    if (!(await lstatOrNull(join(this.target, ".hg")))) throw new UpdateNeeded(`no clone at ${this.target}`);
    if (!this.vcsUpdate) return;
    if (await this.hasOutgoingChangesets()) {
      output.annotate(`Hg clone at ${this.target} has outgoing changesets.`, { red: true });
    }
    if (await this.hasChanges()) {
      output.annotate(`Hg clone at ${this.target} is dirty, going to lose changes.`, { red: true });
      throw new UpdateNeeded("dirty work directory");
    }
    if (this.revision) {
      const current = await this.currentRevision(this.revision.length === 40);
      if (current !== this.revision) throw new UpdateNeeded(`not at revision ${this.revision}`);
    }
    if (this.branch && ((await this.currentBranch()) !== this.branch || (await this.hasIncomingChangesets()))) {
      throw new UpdateNeeded(`branch ${this.branch} is not current`);
    }
  }

  override async update(): Promise<void> {
    if (!(await lstatOrNull(join(this.target, ".hg")))) {
      await this.hg(["clone", "-u", this.revisionOrBranch, this.url, "."]);
      return;
    }
    await this.hg(["pull", "--rev", this.revisionOrBranch]);
    for (const file of await this.untrackedFiles()) await Deno.remove(join(this.target, file));
    await this.hg(["update", "--clean", "--rev", this.revisionOrBranch]);
  }

  /** The commit time (ms, UTC) of the working copy's parent, or null without a clone. */
  override async lastUpdated(): Promise<number | null> {
    if (!(await lstatOrNull(join(this.target, ".hg")))) return null;
    const r = await this.hg(["log", "-r", ".", "--template", "{date|hgdate}"], { ignoreReturnCode: true });
    if (r.code !== 0) return null;
    const [timestamp] = r.stdout.trim().split(/\s+/).map(Number);
    return timestamp * 1000;
  }

  override get breadcrumb(): string {
    return `Clone('${maskPassword(this.url)}')`;
  }
}

/** The mercurial family as a namespace: `hg.Clone`. */
export const hg: { Clone: typeof Clone } = { Clone };
