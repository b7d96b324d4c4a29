/**
 * Supervisor (batou's `batou.lib.supervisor`), using the host's `supervisord`
 * (Debian: `apt-get install supervisor`; the system service is not used).
 *
 * `Supervisor()` runs a private supervisord whose config, socket, pid file and logs
 * live in its work directory (`etc/supervisord.conf`, `etc/supervisor.d/*.conf`,
 * `var/supervisor.sock`, `var/log/`). It provides itself as the resource
 * `"supervisor"`. `Program(name, { command, ... })` adds a program to the host's
 * Supervisor and keeps it running (or stopped with `enable: false`).
 *
 * - A program restarts when its config or any of its `dependencies` (default: its parent
 *   component, so e.g. a config file added before it) changed in this deploy.
 * - `deployment: "hot"` (default) keeps the program running while the rest deploys;
 *   `"cold"` stops it as soon as a component before it (a precursor) is about to update.
 * - supervisord is started when it is not running and reloaded when its own config changed.
 *   To start it at boot, add a `CronJob(supervisor.startCommand, { timing: "@reboot" })`.
 *
 * @example
 * ```ts
 * import { Component, File, Program, Supervisor } from "batou";
 * export class App extends Component {
 *   override configure() {
 *     this.add(new Supervisor());
 *     this.add(new File("app.conf", { content: "port = 8080\n" }));
 *     this.add(new Program("app", { command: "bin/app", args: "-c app.conf", options: { startsecs: 2 } }));
 *   }
 * }
 * ```
 * @module
 */
import { basename, isAbsolute, join, normalize } from "../core/runtime/path.ts";
import { Component } from "../core/model/component.ts";
import { joinCommand } from "../core/model/cmd.ts";
import { ConfigurationError, UpdateNeeded } from "../core/model/errors.ts";
import { output } from "../core/model/output.ts";
import { Directory, File } from "./file.ts";
import { RuntimeError } from "./git.ts";
import { sleep } from "../core/runtime/sleep.ts";
import { RotatedLogfile } from "./logrotate.ts";

/** Options of {@linkcode Supervisor}. */
export interface SupervisorOptions {
  /** Keep supervisord running (default true); false shuts it down. */
  enable?: boolean;
  /** The control socket (default `var/supervisor.sock`; Unix sockets allow ~100 characters). */
  socketPath?: string;
  /** supervisord's log level (default `info`). */
  logLevel?: string;
  /** The supervisord command (default `supervisord`). */
  supervisord?: string;
  /** The supervisorctl command (default `supervisorctl`). */
  supervisorctl?: string;
  /** Seconds to wait for supervisord to answer after starting or reloading (default 30). */
  startTimeout?: number;
  /**
   * Also serve supervisor's XML-RPC/HTTP interface on this TCP address (`host:port`, `[inet_http_server]`), e.g.
   * for monitoring. Default none (the Unix socket only). batou declares `address` but does not use it.
   */
  address?: string | null;
  /**
   * After supervisord was started or reloaded, wait up to this many seconds for the enabled programs to be
   * running (batou's `max_startup_delay`; programs raise it to their `startsecs`). Default 0.
   */
  maxStartupDelay?: number;
  /** Wait for programs to be RUNNING after (re)starting them (batou's `wait_for_running`, default true). */
  waitForRunning?: boolean;
  /** Rotate `var/log/*.log` with the host's {@linkcode Logrotate} (batou's `logrotate`, default false). */
  logrotate?: boolean;
}

/** A private supervisord in the work directory. */
export class Supervisor extends Component {
  enable = true;
  socketPath = "var/supervisor.sock";
  logLevel = "info";
  supervisord = "supervisord";
  supervisorctl = "supervisorctl";
  startTimeout = 30;
  address: string | null = null;
  maxStartupDelay = 0;
  waitForRunning = true;
  logrotate = false;
  /** The programs and event listeners configured for this supervisor (they register themselves). */
  programs: Program[] = [];
  /** Paths after configure. */
  configFile = "";
  programDir = "";
  logDir = "";
  pidFile = "";
  /** The supervisord config file component. */
  config: File | null = null;

  constructor(options: SupervisorOptions = {}) {
    super(options as Record<string, unknown>);
  }

  override configure(): void {
    this.provide("supervisor", this);
    this.socketPath = this.map(this.socketPath);
    if (this.socketPath.length > 100) {
      throw ConfigurationError.create(
        `The supervisor socket path is too long for a Unix socket (${this.socketPath.length} characters): ` +
          `set socketPath to a shorter one.`,
        this,
      );
    }
    this.configFile = this.map("etc/supervisord.conf");
    this.programDir = this.add(new Directory("etc/supervisor.d", { leading: true })).path;
    this.logDir = this.add(new Directory("var/log", { leading: true })).path;
    this.pidFile = this.map("var/supervisord.pid");
    this.add(new Directory(this.map(join(this.socketPath, "..")), { leading: true }));
    if (this.address !== null && this.address !== undefined && this.address !== "") {
      const m = /^(.+):(\d{1,5})$/.exec(this.address);
      if (!m || Number(m[2]) < 1 || Number(m[2]) > 65535) {
        throw ConfigurationError.create(`address must be host:port, got ${JSON.stringify(this.address)}`, this);
      }
    }
    this.config = this.add(new File(this.configFile, { content: this.render(), isTemplate: false }));
    if (this.logrotate) {
      const pid = joinCommand([this.supervisorctl, "-c", this.configFile, "pid"]);
      this.add(new RotatedLogfile(join(this.logDir, "*.log"), { postrotate: `kill -USR2 $(${pid})` }));
    }
    this.add(this.enable ? new RunningSupervisor() : new StoppedSupervisor());
  }

  /** The supervisord configuration. */
  render(): string {
    return [
      "; Generated by batou. Do not edit.",
      "[unix_http_server]",
      `file = ${this.socketPath}`,
      "chmod = 0700",
      "",
      "[supervisord]",
      `logfile = ${join(this.logDir, "supervisord.log")}`,
      "logfile_maxbytes = 10MB",
      "logfile_backups = 3",
      `loglevel = ${this.logLevel}`,
      `pidfile = ${this.pidFile}`,
      `childlogdir = ${this.logDir}`,
      `directory = ${this.workdir}`,
      "nodaemon = false",
      `identifier = batou-${this.root.name}`,
      "",
      ...(this.address ? ["[inet_http_server]", `port = ${this.address}`, ""] : []),
      "[rpcinterface:supervisor]",
      "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface",
      "",
      "[supervisorctl]",
      `serverurl = unix://${this.socketPath}`,
      "",
      "[include]",
      `files = ${join(this.programDir, "*.conf")}`,
      "",
    ].join("\n");
  }

  /** The command that starts this supervisord (e.g. for an `@reboot` cron job). */
  get startCommand(): string {
    return joinCommand([this.supervisord, "-c", this.configFile]);
  }

  /** Runs `supervisorctl -c <config> args...`. */
  async ctl(args: string[], opts: { ignoreReturnCode?: boolean } = {}) {
    return await this.cmd(joinCommand([this.supervisorctl, "-c", this.configFile, ...args]), {
      expand: false,
      silent: true,
      ignoreReturnCode: opts.ignoreReturnCode ?? true,
    });
  }

  /** The pid of the running supervisord, or null when it does not answer. */
  async pid(): Promise<number | null> {
    const result = await this.ctl(["pid"]);
    const pid = Number(result.stdout.trim());
    return result.stdout.trim() !== "" && Number.isInteger(pid) && pid > 0 ? pid : null;
  }

  /** Waits until supervisord answers. */
  async waitRunning(): Promise<void> {
    const deadline = Date.now() + this.startTimeout * 1000;
    while (Date.now() < deadline) {
      if ((await this.pid()) !== null) return;
      await sleep(200);
    }
    throw new RuntimeError(`supervisor master process did not start within ${this.startTimeout} seconds`);
  }

  /** With `waitForRunning`: waits up to `maxStartupDelay` seconds until the enabled programs are RUNNING. */
  async waitForPrograms(): Promise<void> {
    if (!this.waitForRunning || this.maxStartupDelay <= 0) return;
    const names = this.programs.filter((p) => p.enable && !(p instanceof Eventlistener)).map((p) => p.name);
    if (!names.length) return;
    const deadline = Date.now() + this.maxStartupDelay * 1000;
    while (Date.now() < deadline) {
      const { stdout } = await this.ctl(["status", ...names]);
      if (stdout.split("\n").filter((l) => l.includes("RUNNING")).length >= names.length) return;
      await sleep(250);
    }
  }
}

/** Keeps the parent {@linkcode Supervisor} running; reloads it when its config changed. */
export class RunningSupervisor extends Component {
  #running = false;

  get supervisor(): Supervisor {
    return this.parent as Supervisor;
  }

  override async verify(): Promise<void> {
    this.#running = (await this.supervisor.pid()) !== null;
    if (!this.#running) throw new UpdateNeeded("supervisord is not running");
    if (this.supervisor.config?.changed) throw new UpdateNeeded("supervisord.conf changed");
  }

  override async update(): Promise<void> {
    if (!this.#running) {
      await this.cmd(this.supervisor.startCommand, { expand: false });
    } else {
      output.annotate("Reloading supervisord");
      await this.supervisor.ctl(["reload"]);
      // reload answers before the restart: wait until it has gone down and come back.
      await sleep(500);
    }
    await this.supervisor.waitRunning();
    await this.supervisor.waitForPrograms();
  }
}

/** Shuts the parent {@linkcode Supervisor} down. */
export class StoppedSupervisor extends Component {
  override async verify(): Promise<void> {
    if ((await (this.parent as Supervisor).pid()) !== null) throw new UpdateNeeded("supervisord is running");
  }

  override async update(): Promise<void> {
    await (this.parent as Supervisor).ctl(["shutdown"]);
  }
}

/** Options of {@linkcode Program}. */
export interface ProgramOptions {
  /** The command (relative ones resolve against the work directory unless `commandAbsolute: false`). Required. */
  command?: string | null;
  /** Make a relative command absolute (default true). */
  commandAbsolute?: boolean;
  /** Arguments appended to the command. */
  args?: string;
  /** Further `[program:x]` settings (default `startsecs = 5`, `startretries = 3`). */
  options?: Record<string, string | number | boolean>;
  /** Start order (default 10). */
  priority?: number;
  /** Working directory (default the work directory). */
  directory?: string | null;
  /** Components whose changes restart the program (default: the parent). */
  dependencies?: Component[] | null;
  /** Keep the program running (default true); false stops it. */
  enable?: boolean;
  /** `"hot"` (default): keeps running while others update; `"cold"`: stopped before a precursor updates. */
  deployment?: "hot" | "cold";
}

/** A program run by the host's {@linkcode Supervisor}. */
export class Program extends Component {
  static override namevar = "name";
  static override events: Record<string, [string, string]> = { evade: ["before-update", "precursor"] };
  name = "";
  command: string | null = null;
  commandAbsolute = true;
  args = "";
  options: Record<string, string | number | boolean> = {};
  priority = 10;
  directory: string | null = null;
  dependencies: Component[] | null = null;
  enable = true;
  deployment: "hot" | "cold" = "hot";
  /** The host's supervisor (after configure). */
  supervisor: Supervisor | null = null;
  /** The program's config file (after configure). */
  config: File | null = null;
  #evaded = false;

  constructor(name: string, options: ProgramOptions = {}) {
    super(name, options as Record<string, unknown>);
  }

  override configure(): void {
    this.supervisor = this.requireOne<Supervisor>("supervisor", { host: this.host });
    if (this.dependencies === null || this.dependencies === undefined) {
      this.dependencies = this.parent instanceof Component ? [this.parent] : [];
    }
    if (!this.command) throw ConfigurationError.create(`\`command\` option missing for program ${this.name}`, this);
    if (this.deployment !== "hot" && this.deployment !== "cold") {
      throw ConfigurationError.create(`deployment must be "hot" or "cold", not ${this.deployment}`, this);
    }
    if (!/^[A-Za-z0-9_.-]+$/.test(this.name)) {
      throw ConfigurationError.create(`Invalid program name ${this.name}`, this);
    }
    this.directory = this.directory ? this.map(this.directory) : this.workdir;
    if (this.commandAbsolute && !isAbsolute(this.command)) this.command = normalize(join(this.workdir, this.command));
    this.options = { startsecs: 5, startretries: 3, ...this.options };
    if (!this.supervisor.programs.includes(this)) this.supervisor.programs.push(this);
    const startsecs = Number(this.options.startsecs);
    if (Number.isFinite(startsecs)) {
      this.supervisor.maxStartupDelay = Math.max(this.supervisor.maxStartupDelay, startsecs);
    }
    this.config = this.add(
      new File(join(this.supervisor.programDir, `${this.name}.conf`), { content: this.render(), isTemplate: false }),
    );
  }

  /** The `[program:name]` section. */
  render(): string {
    const log = this.logFile;
    const lines = [
      `[program:${this.name}]`,
      `command = ${this.command}${this.args ? ` ${this.args}` : ""}`,
      `process_name = ${this.name}`,
      `directory = ${this.directory}`,
      `priority = ${this.priority}`,
      `stdout_logfile = ${log}`,
      "stdout_logfile_backups = 0",
      "stdout_logfile_maxbytes = 0",
      `stderr_logfile = ${log}`,
      "stderr_logfile_backups = 0",
      "stderr_logfile_maxbytes = 0",
      "redirect_stderr = true",
    ];
    for (const [key, value] of Object.entries(this.options)) lines.push(`${key} = ${value}`);
    return lines.join("\n") + "\n";
  }

  /** Runs supervisorctl for this host's supervisor. */
  ctl(args: string[], opts: { ignoreReturnCode?: boolean } = {}) {
    return this.supervisor!.ctl(args, opts);
  }

  /** Whether supervisor reports the program as RUNNING. */
  async isRunning(): Promise<boolean> {
    return (await this.ctl(["status", this.name])).stdout.includes("RUNNING");
  }

  override async verify(): Promise<void> {
    // An evasion (stop) happens before this verify in the same deploy; the next deploy may evade again.
    this.#evaded = false;
    if (!this.supervisor!.enable) return;
    this.assertNoSubcomponentChanges();
    for (const dependency of this.dependencies ?? []) dependency.assertNoChanges();
    const running = await this.isRunning();
    if (this.enable !== running) throw new UpdateNeeded(`${this.name} is ${running ? "running" : "not running"}`);
  }

  override async update(): Promise<void> {
    // `update <name>` rereads the config and (re)starts the program when its section was added or changed.
    const updated = await this.ctl(["update", this.name]);
    if (!this.enable) {
      if (await this.isRunning()) await this.ctl(["stop", this.name]);
      return;
    }
    const restartedByUpdate = /(added|updated) process group/.test(updated.stdout);
    // A spawn error is reported below, with the program's log (supervisorctl only says "process log may have details").
    const result = restartedByUpdate ? updated : await this.ctl(["restart", this.name], { ignoreReturnCode: true });
    if (!this.supervisor!.waitForRunning) {
      if (result.code === 0) return;
      throw new RuntimeError(
        `Program "${this.name}" did not start up\n${result.stdout}${result.stderr}`.trimEnd() +
          `\n${await this.logTail()}`,
      );
    }
    const startsecs = Number(this.options.startsecs ?? 1);
    const deadline = Date.now() + (Math.max(startsecs, 1) + 5) * 1000;
    while (true) {
      const status = await this.ctl(["status", this.name]);
      if (status.stdout.includes("RUNNING")) return;
      const starting = /STARTING|BACKOFF/.test(status.stdout) && Date.now() < deadline;
      if (!starting) {
        throw new RuntimeError(
          `Program "${this.name}" did not start up\n${result.stdout}${result.stderr}${status.stdout}`.trimEnd() +
            `\n${await this.logTail()}`,
        );
      }
      await sleep(250);
    }
  }

  /** The program's log file (stdout and stderr) on the target. */
  get logFile(): string {
    return join(this.supervisor!.logDir, `${this.name}.log`);
  }

  /** `Log <path> (last N lines):` and the log's last lines, for a failed start. */
  async logTail(lines = 20): Promise<string> {
    let text: string;
    try {
      text = await Deno.readTextFile(this.logFile);
    } catch (e) {
      return `Log ${this.logFile}: ${(e as Error).message}`;
    }
    const tail = text.trimEnd().split("\n").slice(-lines);
    if (tail.length === 1 && tail[0] === "") return `Log ${this.logFile}: (empty)`;
    return `Log ${this.logFile} (last ${tail.length} lines):\n${tail.join("\n")}`;
  }

  /** Event handler: a cold program is stopped before a precursor updates. */
  async evade(_source: Component): Promise<void> {
    if (this.deployment === "hot" || this.#evaded) return;
    this.#evaded = true;
    output.annotate(`\u2623 Stopping ${this.name} for cold deployment`);
    try {
      await this.ctl(["stop", this.name]);
    } catch { /* keep going */ }
  }

  override get breadcrumb(): string {
    return `Program('${basename(this.name)}')`;
  }
}

/** Options of {@linkcode Eventlistener}. */
export interface EventlistenerOptions extends ProgramOptions {
  /** The events to listen to (default `["TICK_60"]`), e.g. `["PROCESS_STATE_EXITED"]`. */
  events?: string[] | string;
}

/**
 * A supervisor event listener (`[eventlistener:name]`, batou's `supervisor.Eventlistener`), e.g. superlance's
 * `httpok` or `memmon`. A relative `command` resolves against the supervisor's work directory, as in batou.
 */
export class Eventlistener extends Program {
  events: string[] | string = ["TICK_60"];

  constructor(name: string, options: EventlistenerOptions = {}) {
    super(name, options);
  }

  override configure(): void {
    if (Array.isArray(this.events)) this.events = this.events.join(",");
    const supervisor = this.requireOne<Supervisor>("supervisor", { host: this.host });
    if (this.command && this.commandAbsolute && !isAbsolute(this.command)) {
      this.command = normalize(join(supervisor.workdir, this.command));
    }
    super.configure();
  }

  override render(): string {
    const log = join(this.supervisor!.logDir, `${this.name}.log`);
    const lines = [
      `[eventlistener:${this.name}]`,
      `command = ${this.command}${this.args ? ` ${this.args}` : ""}`,
      `events = ${this.events}`,
      `process_name = ${this.name}`,
      `directory = ${this.directory}`,
      `priority = ${this.priority}`,
      `stderr_logfile = ${log}`,
    ];
    for (const [key, value] of Object.entries(this.options)) lines.push(`${key} = ${value}`);
    return lines.join("\n") + "\n";
  }

  override get breadcrumb(): string {
    return `Eventlistener('${basename(this.name)}')`;
  }
}
