/**
 * `Command`: run a shell command during the deployment when a guard says so —
 * the everyday escape hatch for whatever has no component of its own.
 *
 * Guards (either one is enough to skip the command):
 * - `creates`: a path; when it exists, the command is not run.
 * - `unless`: a shell command; when it exits with 0, the command is not run.
 *
 * Both commands are expanded as templates first (`{{ component.x }}`), like `cmd()`.
 * Without any guard the command runs on every deploy, and the component counts as
 * changed every time. Give it a guard whenever you can.
 *
 * @example
 * ```ts
 * import { Command, Component } from "batou";
 * export class App extends Component {
 *   override configure() {
 *     this.add(new Command("make assets", { creates: "assets/app.css", cwd: "src" }));
 *     this.add(new Command("./manage.py migrate", { unless: "./manage.py migrate --check" }));
 *   }
 * }
 * ```
 * @module
 */
import { Component } from "../core/model/component.ts";
import { UpdateNeeded } from "../core/model/errors.ts";
import { lstatOrNull } from "../core/runtime/fsops.ts";

/** Options of {@linkcode Command}. */
export interface CommandOptions {
  /** A shell command; exit code 0 means "already done", so the command is skipped. */
  unless?: string;
  /** A path (relative to the work directory); when it exists, the command is skipped. */
  creates?: string;
  /** Working directory of the command and of `unless` (relative to the work directory). */
  cwd?: string;
  /** Environment variables added to the process environment. */
  env?: Record<string, string>;
}

/** Runs `command` (through `/bin/sh`) unless a guard says it is done. */
export class Command extends Component {
  static override namevar = "command";
  command = "";
  unless = "";
  creates = "";
  cwd = "";
  env: Record<string, string> = {};

  constructor(command: string, options: CommandOptions = {}) {
    super(command, options as Record<string, unknown>);
  }

  override configure(): void {
    if (this.cwd) this.cwd = this.map(this.cwd);
    if (this.creates) this.creates = this.map(this.creates);
  }

  /** The directory commands run in. */
  get directory(): string {
    return this.cwd || this.workdir;
  }

  override async verify(): Promise<void> {
    if (this.creates && (await lstatOrNull(this.creates)) !== null) return;
    if (this.unless) {
      const result = await this.cmd(this.unless, {
        ignoreReturnCode: true,
        silent: true,
        cwd: this.directory,
        env: this.env,
      });
      if (result.code === 0) return;
      throw new UpdateNeeded(`\`${this.unless}\` exited with ${result.code}`);
    }
    if (this.creates) throw new UpdateNeeded(`${this.creates} does not exist`);
    throw new UpdateNeeded("no guard: the command runs on every deploy");
  }

  override async update(): Promise<void> {
    await Deno.mkdir(this.directory, { recursive: true });
    await this.cmd(this.command, { cwd: this.directory, env: this.env });
  }
}
