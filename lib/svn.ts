/**
 * `svn.Checkout`: a subversion working copy at a fixed revision (batou's `batou.lib.svn.Checkout`, also
 * `Subversion`). Checked out when missing; otherwise updated when its revision differs: local changes are reverted,
 * the working copy is switched to `url` and updated to `revision`.
 *
 * @example
 * ```ts
 * import { Component, svn } from "batou";
 * export class Legacy extends Component {
 *   override configure() {
 *     this.add(new svn.Checkout("https://svn.example.com/repo/trunk", { revision: "1234", target: "legacy" }));
 *   }
 * }
 * ```
 * @module
 */
import { join } from "../core/runtime/path.ts";
import { Component } from "../core/model/component.ts";
import { joinCommand } from "../core/model/cmd.ts";
import { ConfigurationError, UpdateNeeded } from "../core/model/errors.ts";
import { lstatOrNull } from "../core/runtime/fsops.ts";
import { Directory } from "./file.ts";
import { maskPassword } from "./download.ts";

/** Options of {@linkcode Checkout}. */
export interface CheckoutOptions {
  /** Where the working copy lives (relative to the work directory; default the work directory). */
  target?: string;
  /** The revision to check out (required). */
  revision?: string | number | null;
}

/** A subversion checkout of `url` at `revision`. */
export class Checkout extends Component {
  static override namevar = "url";
  url = "";
  target = ".";
  revision: string | number | null = null;

  constructor(url: string, options: CheckoutOptions = {}) {
    super(url, options as Record<string, unknown>);
  }

  override configure(): void {
    if (this.revision === null || this.revision === undefined || String(this.revision).trim() === "") {
      throw ConfigurationError.create(`Checkout(${maskPassword(this.url)}) needs a revision`, this);
    }
    this.revision = String(this.revision).trim();
    this.target = this.map(this.target);
    this.add(new Directory(this.target, { leading: true }));
  }

  /** Runs svn with `args` in the working copy. */
  async svn(args: string[]) {
    return await this.cmd(joinCommand(["svn", "--non-interactive", ...args]), {
      cwd: this.target,
      env: { LANG: "C", LC_ALL: "C" },
      expand: false,
      silent: true,
    });
  }

  /** The working copy's revision. */
  async currentRevision(): Promise<string> {
    return (await this.svn(["info", "--show-item", "revision"])).stdout.trim();
  }

  override async verify(): Promise<void> {
    if (!(await lstatOrNull(join(this.target, ".svn")))) throw new UpdateNeeded(`no checkout at ${this.target}`);
    if ((await this.currentRevision()) !== this.revision) throw new UpdateNeeded(`not at revision ${this.revision}`);
  }

  override async update(): Promise<void> {
    const revision = String(this.revision);
    if (!(await lstatOrNull(join(this.target, ".svn")))) {
      await this.svn(["checkout", this.url, ".", "-r", revision]);
      return;
    }
    await this.svn(["revert", "-R", "."]);
    await this.svn(["switch", "--ignore-ancestry", this.url, "-r", revision]);
    await this.svn(["update", "-r", revision]);
  }

  override get breadcrumb(): string {
    return `Checkout('${maskPassword(this.url)}')`;
  }
}

/** batou's old name of {@linkcode Checkout}. */
export { Checkout as Subversion };

/** The subversion family as a namespace: `svn.Checkout`. */
export const svn: { Checkout: typeof Checkout; Subversion: typeof Checkout } = { Checkout, Subversion: Checkout };
