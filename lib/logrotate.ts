/**
 * Log rotation (batou's `batou.lib.logrotate`): components declare
 * `RotatedLogfile`s; one `Logrotate` per host collects them into
 * `logrotate.conf` in its work directory. With `cronJob: true` it also adds a
 * `CronJob` that runs `logrotate -s <workdir>/state <workdir>/logrotate.conf`
 * nightly (then the host needs a `CronTab`).
 *
 * The common settings default to batou's Debian defaults (daily, 14 rotations,
 * compressed, dated); pass `commonConfig` to change them.
 *
 * @example
 * ```ts
 * import { Component, CronTab, Logrotate, RotatedLogfile } from "batou";
 * export class App extends Component {
 *   override configure() {
 *     this.add(new RotatedLogfile("var/log/*.log", { postrotate: "kill -HUP $(cat var/app.pid)" }));
 *   }
 * }
 * export class Housekeeping extends Component {
 *   override configure() {
 *     this.add(new Logrotate({ cronJob: true }));
 *     this.add(new CronTab());
 *   }
 * }
 * ```
 * @module
 */
import { join } from "../core/runtime/path.ts";
import { Component } from "../core/model/component.ts";
import { CronJob } from "./cron.ts";
import { File } from "./file.ts";
import { joinCommand } from "../core/model/cmd.ts";

/** The resource key under which every {@linkcode RotatedLogfile} provides itself. */
export const ROTATED_LOGFILE_KEY = "batou.lib.logrotate:RotatedLogfile";

/** batou's Debian defaults for every rotated log file. */
export const DEBIAN_LOGROTATE_DEFAULTS = [
  "daily",
  "rotate 14",
  "create",
  "dateext",
  "compress",
  "notifempty",
  "nomail",
  "noolddir",
  "missingok",
  "sharedscripts",
  "",
].join("\n");

/** Options of {@linkcode RotatedLogfile}. */
export interface RotatedLogfileOptions {
  /** logrotate directives for this file: a comma-separated string or a list. */
  args?: string | string[];
  /** Shell commands run before rotating. */
  prerotate?: string | null;
  /** Shell commands run after rotating (e.g. tell the program to reopen its log). */
  postrotate?: string | null;
}

/** A log file (or glob) to rotate; collected by the host's {@linkcode Logrotate}. */
export class RotatedLogfile extends Component {
  static override namevar = "path";
  /** The resource key (batou's `HookComponent.key`). */
  static key = ROTATED_LOGFILE_KEY;
  path = "";
  args: string | string[] = "";
  prerotate: string | null = null;
  postrotate: string | null = null;

  constructor(path: string, options: RotatedLogfileOptions = {}) {
    super(path, options as Record<string, unknown>);
  }

  override configure(): void {
    this.path = this.map(this.path);
    if (typeof this.args === "string") this.args = this.args.split(",");
    this.args = this.args.map((a) => a.trim()).filter((a) => a !== "");
    this.provide(ROTATED_LOGFILE_KEY, this);
  }
}

/** Renders the logrotate stanzas of `logfiles` (batou's `logrotate.in`). */
export function renderLogrotate(logfiles: RotatedLogfile[]): string {
  let text = "";
  for (const logfile of logfiles) {
    text += `\n\n${logfile.path}  {`;
    for (const arg of logfile.args as string[]) text += `\n${arg}`;
    if (logfile.prerotate) text += `\nprerotate\n${logfile.prerotate}\nendscript`;
    if (logfile.postrotate) text += `\npostrotate\n${logfile.postrotate}\nendscript`;
    text += "\n}\n\n";
  }
  return text + "\n";
}

/** Options of {@linkcode Logrotate}. */
export interface LogrotateOptions {
  /** Settings for all files, at the top of `logrotate.conf` (default {@linkcode DEBIAN_LOGROTATE_DEFAULTS}). */
  commonConfig?: string;
  /** Add a nightly `CronJob` running logrotate (default false; needs a `CronTab` on the host). */
  cronJob?: boolean;
  /** Cron timing of that job (default `45 2 * * *`). */
  timing?: string;
  /** The logrotate program (default `/usr/sbin/logrotate`). */
  logrotate?: string;
}

/** Collects the host's rotated log files into `logrotate.conf`. */
export class Logrotate extends Component {
  commonConfig = DEBIAN_LOGROTATE_DEFAULTS;
  cronJob = false;
  timing = "45 2 * * *";
  logrotate = "/usr/sbin/logrotate";
  /** The collected log files, sorted by path. */
  logfiles: RotatedLogfile[] = [];
  /** The `logrotate.conf` file component. */
  logrotateConf: File | null = null;

  constructor(options: LogrotateOptions = {}) {
    super(options as Record<string, unknown>);
  }

  override configure(): void {
    this.logfiles = [...this.require<RotatedLogfile>(ROTATED_LOGFILE_KEY, { host: this.host })].sort((a, b) =>
      a.path < b.path ? -1 : a.path > b.path ? 1 : 0
    );
    const content = this.commonConfig + renderLogrotate(this.logfiles);
    this.logrotateConf = this.add(new File("logrotate.conf", { content, isTemplate: false }));
    if (this.cronJob) this.add(new CronJob(this.command, { timing: this.timing }));
  }

  /** The command that rotates the logs (with its own state file). */
  get command(): string {
    return joinCommand([this.logrotate, "-s", join(this.workdir, "state"), this.logrotateConf!.path]);
  }
}
