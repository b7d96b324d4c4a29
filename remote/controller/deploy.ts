/**
 * `batou deploy`: the controller's run through the steps load, connect
 * (start an agent per host; each configures its own host's roots, in rounds
 * with the resources the controller brokers between hosts: broker.ts), deploy
 * (roots in dependency order across hosts) and summarize, printed as batou
 * prints it.
 *
 * @module
 */
import { normalizeStack } from "../../core/runtime/script.ts";
import { compareStrings } from "../../core/runtime/compare.ts";
import { join, relative } from "../../core/runtime/path.ts";
import { Environment, type SecretsData } from "../../core/model/environment.ts";
import { ConfigParseError } from "../../core/formats/configparser.ts";
import {
  ConfigFileError,
  ConfigurationError,
  DeploymentError,
  errorFromJSON,
  type ErrorJSON,
  ReportingError,
  reportWithPlace,
  type ReportWriter,
  simplifiedStack,
  sortErrors,
  UnexpectedError,
} from "../../core/model/errors.ts";
import { type Format, output } from "../../core/model/output.ts";
import { formatDuration } from "../../core/model/timer.ts";
import type { Host } from "../../core/model/host.ts";
import { type AgentConnection, startLocalAgent } from "../transport/connect.ts";
import { callAgent, type ConfigureParams, type ReconfigureParams, type RootDependency } from "../contract/methods.ts";
import { rootDependencyList } from "../contract/root_dependencies.ts";
import { AgentUnresponsive, ConnectionLost, InvalidMessage, RpcError } from "../contract/protocol.ts";
import { type AgentWatch, DEFAULT_LIVENESS_TIMEOUT, watchAgent } from "../transport/liveness.ts";
import { checkPublication, forwardedSecrets, MAX_ROUNDS, ResourceBroker } from "./broker.ts";
import type { ForeignResource, ResourcePublication } from "../../core/model/resource_exchange.ts";
import { verifyRepository } from "./repository.ts";
import { secretValues } from "../../core/secrets/load.ts";
import { type ScopedSecrets, scopedSecrets, secretFilesFor } from "./secret_scope.ts";
import { ReportRecorder, writeJsonAtomic } from "./deploy_report.ts";
import { traceRpc } from "../transport/rpc_trace.ts";
import { Progress } from "./progress.ts";
import { selectHosts } from "../../core/model/host_selection.ts";
import { projectTargetDirectory, resolveSyncSource, type SyncSource } from "./sync_source.ts";
import { Interrupt } from "./interrupt.ts";
import { followOnNote, isFollowOn } from "../../core/model/follow_on.ts";
import { pool } from "../../core/runtime/pool.ts";

/** Whether a failed deploy call is the agent stopping as asked, or its connection ending while it stopped. */
function isStop(err: unknown): boolean {
  if (err instanceof ConnectionLost) return true;
  return err instanceof RpcError && err.errors.some((j) => j.type === "DeploymentStopped");
}

/** Options of {@linkcode deploy}, from the command line. */
export interface DeployOptions {
  environment: string;
  baseDir: string;
  predictOnly?: boolean;
  consistencyOnly?: boolean;
  local?: boolean;
  dirty?: boolean;
  jobs?: number | null;
  timeout?: number | null;
  platform?: string | null;
  debug?: boolean;
  /** `--hosts`: connect and deploy only the hosts these names or globs match (all when absent or empty). */
  hosts?: string[] | null;
  /** The batou modules served to component files. */
  modules: Record<string, unknown>;
  /** The program's version, shown in the first line. */
  version: string;
  /** Decrypts the environment's secrets (null when it has none). */
  loadSecrets?: (env: Environment) => Promise<SecretsData | null>;
  /** Connects to a remote host (ssh, vagrant); local connections need none. */
  connectRemote?: (env: Environment, host: Host) => Promise<AgentConnection>;
  /** Syncs `source` (the project, or the repository it is in) to a connected remote agent's target directory. */
  syncProject?: (conn: AgentConnection, env: Environment, source: SyncSource) => Promise<void>;
  /** Write a JSON record of the run here (see deploy_report.ts), also when the run fails. */
  report?: string | null;
  /** Ctrl-C and SIGTERM, installed by the caller (main.ts does it before the early connections start). */
  interrupt?: Interrupt;
}

/**
 * `, agent runs as service_user app` for a host whose agent the transport starts as its service user (every method
 * but `local`, whose agent is this user's), else "".
 */
export function runsAs(host: Host, method: string): string {
  return host.serviceUser && method !== "local" ? `, agent runs as service_user ${host.serviceUser}` : "";
}

/** The run was stopped by a signal (see interrupt.ts); the main loop reports what was done and what was not. */
class RunInterrupted extends Error {
  constructor() {
    super("interrupted");
  }
}

/** A step failed; its errors were collected and are reported by the main loop. */
class StepFailed extends Error {
  constructor(readonly errors: unknown[]) {
    super("step failed");
  }
}

/** Errors of several hosts after configure, merged and reported as batou does. */
export class ConfigureErrors extends ReportingError {
  override name = "ConfigureErrors";
  /**
   * `groups`: one per distinct error, with the hosts it affects, the agents that reported it and the agents that
   * configured what it concerns (`expected`; all agents when absent). `allReporting`: every agent that configured.
   */
  constructor(
    readonly groups: { error: ReportingError; hosts: string[]; reporting: string[]; expected?: string[] }[] = [],
    readonly allReporting: string[] = [],
  ) {
    super("Configuration failed");
  }

  override get sortKey(): (string | number | null)[] {
    return [0];
  }

  override report(w: ReportWriter): void {
    const all = this.groups.map((g) => g.error);
    const shown = this.groups.filter((g) => !isFollowOn(g.error, all));
    for (const g of shown) {
      w.line("");
      g.error.report(w);
      if (g.hosts.length) w.tabular("Affected hosts", g.hosts.join(", "), { red: true });
      const notReporting = (g.expected ?? this.allReporting).filter((h) => !g.reporting.includes(h));
      if (notReporting.length && this.allReporting.length > 1) {
        w.tabular("Reporting hosts", g.reporting.join(", "), { red: true });
        w.tabular("Not reporting", notReporting.join(", "), { red: true });
      }
    }
    const note = followOnNote(all);
    if (note.length) w.line("");
    for (const line of note) w.line(line, { red: true });
    output.section(`${shown.length} ERRORS - CONFIGURATION FAILED`, { red: true });
  }
}

/**
 * Merges the configure errors of all hosts: identical errors become one with its affected hosts. `configured` tells
 * which hosts' roots each agent configured (null or absent: all); an error is expected from the agents that
 * configured its host (an error of no host: from those that configured everything), and only their silence is
 * reported as "Not reporting".
 */
export function mergeErrors(
  perHost: Map<string, ReportingError[]>,
  configured: Map<string, string[] | null> = new Map(),
): ConfigureErrors {
  const groups: { error: ReportingError; hosts: Set<string>; reporting: Set<string> }[] = [];
  for (const [reporter, errors] of perHost) {
    for (const error of errors) {
      let group = groups.find((g) => g.error.sameAs(error));
      if (!group) groups.push(group = { error, hosts: new Set(), reporting: new Set() });
      if (error.affectedHostname) group.hosts.add(error.affectedHostname);
      group.reporting.add(reporter);
    }
  }
  const agents = [...perHost.keys()].sort();
  const expectedFrom = (g: { error: ReportingError; reporting: Set<string> }) =>
    agents.filter((a) => {
      const scope = configured.get(a) ?? null;
      if (scope === null || g.reporting.has(a)) return true;
      return !!g.error.affectedHostname && scope.includes(g.error.affectedHostname);
    });
  const sorted = sortErrors(groups.map((g) => Object.assign(g, { sortKey: g.error.sortKey })));
  return new ConfigureErrors(
    sorted.map((g) => ({
      error: g.error,
      hosts: [...g.hosts].sort(),
      reporting: [...g.reporting].sort(),
      expected: expectedFrom(g),
    })),
    agents,
  );
}

function toReporting(e: unknown, debug: boolean): ReportingError {
  if (e instanceof ReportingError) return e;
  return UnexpectedError.wrap(e, debug);
}

/**
 * The errors an RPC failure carries, rebuilt; a lost connection names the host and what was running. Unexpected
 * errors get the host, the root (if any) and their place in the project; their full stack is kept only for `--debug`.
 */
function rpcErrors(
  e: unknown,
  host: string,
  what: string,
  debug: boolean,
  where: { root?: string; projectDir?: string } = {},
): ReportingError[] {
  if (e instanceof RpcError && e.errors.length) {
    return e.errors.map((j: ErrorJSON) => {
      const err = errorFromJSON(j);
      if (where.root !== undefined) err.affectedHostname ||= host; // the report and its "host" name it
      if (err instanceof UnexpectedError) {
        err.hostName ||= host;
        err.rootName ||= where.root ?? "";
        if (err.traceback) err.place = simplifiedStack(err.traceback, where.projectDir);
        if (!debug) err.traceback = "";
      }
      return err;
    });
  }
  if (e instanceof InvalidMessage || e instanceof AgentUnresponsive) {
    const err = new DeploymentError(e.message);
    err.affectedHostname = host;
    return [err];
  }
  if (e instanceof ConnectionLost) {
    return [new DeploymentError(`${host}: lost connection to the agent while ${what} (${e.message})`)];
  }
  return [toReporting(e, debug)];
}

/** Runs a deployment and returns the process exit code. */
export async function deploy(opts: DeployOptions): Promise<number> {
  const run = new DeploymentRun(opts);
  return await run.main();
}

class DeploymentRun {
  env: Environment;
  connections = new Map<string, AgentConnection>();
  /** Per connected host: the hosts whose roots its agent configured (null: all of them). */
  configuredHosts = new Map<string, string[] | null>();
  /** The resources brokered between the agents (null when one agent configured the whole model: `-c -L`). */
  broker: ResourceBroker | null = null;
  /** Agents whose last configure round's logs and warnings wait for `configureReport`. */
  unreported = new Set<string>();
  timings = new Map<string, number>();
  action: string;
  color: Format;
  /** Secret values masked in every output line, here and on the agents. */
  maskValues: string[] = [];
  /** The decrypted secrets (null without any), to send each host only its own (remote/controller/secret_scope.ts). */
  secrets: SecretsData | null = null;
  /** The per-host status line on a terminal. */
  progress = new Progress();
  /** Records the run for `--report` (null without). */
  recorder: ReportRecorder | null = null;
  /** `--hosts`: the selected host names (null: all hosts). */
  selected: Set<string> | null = null;
  /** What remote hosts get (update_method, repository_root); null for local deployments. */
  syncSource: SyncSource | null = null;
  /** Ctrl-C and SIGTERM (see interrupt.ts). */
  interrupt: Interrupt;
  /** Per root (`host: root`) once scheduled: how it ended, or "running". */
  rootOutcomes = new Map<string, "running" | "ok" | "failed" | "interrupted" | "skipped">();
  /** Every root of the schedule, in schedule order (`host: root`). */
  scheduledRoots: string[] = [];
  /** The liveness watch of each connected agent (remote/transport/liveness.ts). */
  watches = new Map<string, AgentWatch>();
  /** Set when an agent stopped responding: the other hosts were asked to stop, as on Ctrl-C. */
  abandoned: AgentUnresponsive | null = null;

  constructor(readonly opts: DeployOptions) {
    this.interrupt = opts.interrupt ?? new Interrupt();
    this.env = new Environment(opts.environment, {
      baseDir: opts.baseDir,
      platform: opts.platform,
      timeout: opts.timeout,
      jobs: opts.jobs,
      checkAndPredictLocal: opts.local,
    });
    if (opts.consistencyOnly) {
      this.action = "CONSISTENCY CHECK";
      this.color = { cyan: true };
    } else if (opts.predictOnly) {
      this.action = "DEPLOYMENT PREDICTION";
      this.color = { purple: true };
    } else {
      this.action = "DEPLOYMENT";
      this.color = { green: true };
    }
    if (opts.local) this.action += " (local)";
    if (opts.report) {
      const action = opts.consistencyOnly ? "consistency-check" : opts.predictOnly ? "predict" : "deploy";
      this.recorder = new ReportRecorder({
        version: opts.version,
        environment: opts.environment,
        action,
        local: !!opts.local,
      });
    }
  }

  /** Runs the deployment; with `--report` writes the record afterwards, whatever happened. */
  async main(): Promise<number> {
    const own = !this.opts.interrupt;
    if (own) this.interrupt.install();
    // Agents stop at their next component boundary; the schedule starts nothing new (see schedule()).
    this.interrupt.onFirst(() => {
      for (const conn of this.connections.values()) {
        callAgent(conn.peer, "stop", { reason: "interrupted" }).catch(() => {});
      }
    });
    try {
      return await this.#main();
    } finally {
      if (own) this.interrupt.uninstall();
    }
  }

  async #main(): Promise<number> {
    if (!this.recorder || !this.opts.report) return await this.run();
    let code = 1;
    this.recorder.tapOutput();
    try {
      code = await this.run();
    } catch (e) {
      this.recorder.errors([e]);
      throw e;
    } finally {
      this.recorder.untapOutput();
      try {
        await writeJsonAtomic(this.opts.report, this.recorder.build(this.env, code));
      } catch (e) {
        output.error(`Cannot write the report ${this.opts.report}: ${(e as Error).message}`);
        code = 1;
      }
    }
    return code;
  }

  async run(): Promise<number> {
    output.enableDebug = !!this.opts.debug;
    output.line(`batou/${this.opts.version} (deno ${Deno.version.deno}, ${Deno.build.os} ${Deno.build.arch})`);
    if (this.opts.local && !this.opts.consistencyOnly && !this.opts.predictOnly) {
      output.error("The --local option is only to be used with --consistency-only or --predict-only.");
      this.recorder?.error(
        "UsageError",
        "The --local option is only to be used with --consistency-only or --predict-only.",
      );
      return 1;
    }
    const lockPath = join(this.opts.baseDir, ".batou-lock");
    let lock: Deno.FsFile;
    try {
      lock = await Deno.open(lockPath, { create: true, read: true, write: true });
    } catch (e) {
      output.error(`Cannot open ${lockPath}: ${(e as Error).message}`);
      this.recorder?.error("LockError", `Cannot open ${lockPath}: ${(e as Error).message}`);
      return 1;
    }
    if (!(await lock.tryLock(true))) {
      lock.close();
      const holder = await readLocalLockHolder(lockPath);
      await Deno.stderr.write(
        new TextEncoder().encode(
          `Could not acquire lock .batou-lock (held by ${holder})\n` +
            `Another instance of batou is currently running and locked the lockfile.\nExiting.\n`,
        ),
      );
      this.recorder?.error(
        "LockError",
        `Another instance of batou is currently running and locked .batou-lock (held by ${holder})`,
      );
      return 1;
    }
    await lock.truncate(0);
    await lock.write(new TextEncoder().encode(localLockHolder()));
    const steps: [string, () => Promise<void>][] = [
      ["load", () => this.load()],
      ["connect", () => this.connect()],
      ["deploy", () => this.deploy()],
      ["summarize", () => this.summarize()],
    ];
    try {
      for (const [name, step] of steps) {
        if (name === "deploy" && this.opts.consistencyOnly) continue;
        if (this.interrupt.requested) return this.interrupted(name);
        if (name === "deploy") this.interrupt.stage = "deploying";
        const started = performance.now();
        try {
          await this.untilInterrupted(name, step());
          this.recorder?.step(name, performance.now() - started, true);
        } catch (e) {
          if (e instanceof RunInterrupted) {
            this.recorder?.step(name, performance.now() - started, false);
            return this.interrupted(name);
          }
          const errors = e instanceof StepFailed ? e.errors : [e];
          this.recorder?.step(name, performance.now() - started, false);
          this.recorder?.errors(errors);
          this.reportErrors(errors);
          if (this.abandoned && this.scheduledRoots.length) {
            output.line("");
            this.listOutcomes();
          }
          output.section(`${this.action} FAILED (during ${name})`, { red: true });
          return 1;
        }
      }
      output.section(`${this.action} FINISHED`, this.color);
      return 0;
    } finally {
      await this.disconnect();
      try {
        await lock.truncate(0);
        lock.close();
      } catch { /* closed */ }
    }
  }

  /**
   * Waits for a step; a signal during the connect step ends the wait at once with {@link RunInterrupted} (the
   * interrupt has closed the connections the step works on, see interrupt.ts). The load step is local and short:
   * the run stops after it. The deploy step handles signals itself.
   */
  async untilInterrupted(name: string, running: Promise<void>): Promise<void> {
    if (name !== "connect") return await running;
    running.catch(() => {}); // the step's end no longer matters once interrupted
    const interrupted = this.interrupt.signalled.then((): never => {
      throw new RunInterrupted();
    });
    interrupted.catch(() => {}); // a signal after the step: the next step sees it
    await Promise.race([running, interrupted]);
  }

  /** Says what a stopped run did and did not do (exit code 130). `step`: the step that did not complete. */
  interrupted(step: string): number {
    const signal = this.interrupt.requested ?? "SIGINT";
    this.recorder?.interrupted(signal);
    output.line("");
    if (!this.scheduledRoots.length) output.line(`Stopped before the ${step} step completed: nothing was deployed.`);
    this.listOutcomes();
    output.section(`${this.action} INTERRUPTED (${signal}, during ${step})`, { red: true });
    return 130;
  }

  /** Lists the scheduled roots by how they ended (after a stop: Ctrl-C, or a host that stopped responding). */
  listOutcomes(): void {
    const by = (outcome: string) => this.scheduledRoots.filter((k) => this.rootOutcomes.get(k) === outcome);
    const notRun = this.scheduledRoots.filter((k) => !this.rootOutcomes.has(k));
    for (
      const [label, list] of [
        ["Deployed", by("ok")],
        ["Failed", by("failed")],
        ["Stopped while deploying", by("interrupted")],
        ["Not started", notRun],
      ] as const
    ) {
      if (list.length) output.line(`${label} (${list.length}): ${list.join(", ")}`);
    }
  }

  reportErrors(errors: unknown[]): void {
    const reporting = errors.map((e) => toReporting(e, !!this.opts.debug));
    for (const e of sortErrors(reporting)) {
      output.line("");
      reportWithPlace(e, output);
      // Load errors are not merged per host (as configure errors are): name the host they concern here.
      if (
        !(e instanceof ConfigureErrors) && e.affectedHostname && !e.component &&
        !(e instanceof UnexpectedError && e.hostName)
      ) {
        output.tabular("Affected hosts", e.affectedHostname, { red: true });
      }
      if (this.opts.debug && !(e instanceof ConfigureErrors) && e.stack && e instanceof UnexpectedError === false) {
        for (const l of normalizeStack(e.stack).split("\n").slice(1)) output.debug("\t" + l.trim(), { red: true });
      }
    }
  }

  async timed(step: string, fn: () => Promise<void>): Promise<void> {
    const start = performance.now();
    try {
      await fn();
    } finally {
      this.timings.set(step, (this.timings.get(step) ?? 0) + performance.now() - start);
    }
  }

  async load(): Promise<void> {
    output.section("Preparing");
    output.step("main", `Loading environment \`${this.opts.environment}\`...`, { icon: "📦" });
    this.env.load(this.opts.modules);
    if (this.env.exceptions.length) throw new StepFailed(this.env.exceptions);
    this.selectHosts();
    output.step("main", `Number of jobs: ${this.jobs}`, { icon: "⚙️", debug: true });
    output.step("main", "Verifying repository ...", { icon: "🔍" });
    const repoErrors = await verifyRepository(this.env, !!this.opts.dirty);
    if (repoErrors.length) throw new StepFailed(repoErrors);
    const { source, errors: sourceErrors } = await resolveSyncSource(this.env, (m) => output.warn(m));
    if (sourceErrors.length) throw new StepFailed(sourceErrors);
    this.syncSource = source;
    output.step("main", "Loading secrets ...", { icon: "🔑" });
    let secrets: SecretsData | null = null;
    try {
      secrets = this.opts.loadSecrets ? await this.opts.loadSecrets(this.env) : null;
    } catch (e) {
      // A decrypted secrets file that does not parse: report it like environment.cfg (the parser never quotes values).
      if (!(e instanceof ConfigParseError)) throw e;
      throw ConfigFileError.at(relative(this.env.baseDir, e.file) || e.file, e.line, e.reason);
    }
    this.secrets = secrets;
    if (secrets) {
      this.env.loadSecrets(secrets);
      this.maskValues = secretValues(secrets);
      output.setSecrets(this.maskValues);
    }
    if (this.env.exceptions.length) throw new StepFailed(this.env.exceptions);
  }

  /**
   * Applies `--hosts`: every pattern must match a host (by name or fully qualified name) and at least one selected
   * host must not be ignored. The model is still configured as a whole where resources need it.
   */
  selectHosts(): void {
    const patterns = this.opts.hosts ?? [];
    if (!patterns.length) return;
    const { selected, unmatched } = selectHosts(this.env.hosts.values(), patterns);
    const known = [...this.env.hosts.keys()].sort(compareStrings).join(", ");
    if (unmatched.length) {
      const which = unmatched.map((p) => `\`${p}\``).join(", ");
      throw new ConfigurationError(
        `--hosts: no host matches ${which} in environment \`${this.env.name}\` (hosts: ${known})`,
      );
    }
    if (![...selected].some((name) => !this.env.hosts.get(name)!.ignore)) {
      throw new ConfigurationError(`--hosts: every selected host is ignored in environment \`${this.env.name}\``);
    }
    this.selected = selected;
    const left = [...this.env.hosts.keys()].filter((n) => !selected.has(n)).sort(compareStrings);
    output.step("main", `Selected hosts: ${[...selected].sort(compareStrings).join(", ")}`, { icon: "🎯" });
    if (left.length) output.line(`Not selected (--hosts): ${left.join(", ")}`, { icon: "⏭️" });
  }

  /** Whether `host` is part of this run (`--hosts`). */
  isSelected(host: Host): boolean {
    return this.selected === null || this.selected.has(host.name);
  }

  get jobs(): number {
    const nonIgnored = [...this.env.hosts.values()].filter((h) => !h.ignore && this.isSelected(h)).length;
    return this.env.jobs ?? Math.max(1, nonIgnored);
  }

  /** Hosts to connect, sorted by name; with -c -L only the first. */
  hostsToConnect(): Host[] {
    const hosts = [...this.env.hosts.values()].filter((h) => this.isSelected(h))
      .sort((a, b) => compareStrings(a.name, b.name));
    if (this.opts.local && this.opts.consistencyOnly) return hosts.filter((h) => !h.ignore).slice(0, 1);
    return hosts;
  }

  async connect(): Promise<void> {
    const checkLocal = this.opts.local && this.opts.consistencyOnly;
    output.section(checkLocal ? "LOCAL CONSISTENCY CHECK" : "Connecting hosts and configuring model ...");
    await this.timed("connect", async () => {
      const hosts = this.hostsToConnect();
      if (!hosts.some((h) => !h.ignore)) throw new ConfigurationError("No host found in environment.");
      const method = this.env.connectMethod;
      hosts.forEach((host, i) => {
        if (checkLocal) return;
        if (host.ignore) {
          output.line(`${host.name}: Connection ignored (${i + 1}/${hosts.length})`, { icon: "⏭️", red: true });
        } else {
          output.step(host.name, `Connecting via ${method} (${i + 1}/${hosts.length})${runsAs(host, method)}`, {
            icon: "🌐",
          });
        }
      });
      const active = hosts.filter((h) => !h.ignore);
      const perHost = new Map<string, ReportingError[]>();
      const configured = this.configuredHosts;
      // Every agent configures its own host's roots, with the resources of other hosts' roots brokered in rounds; the
      // first also the roots of the hosts that get no agent (ignored, or not selected with --hosts). A consistency
      // check (-c) is scoped the same way; only -c -L configures the whole model in one (local) agent.
      const first = this.firstHost(active);
      const ignored = [...this.env.hosts.values()].filter((h) => h.ignore || !this.isSelected(h)).map((h) => h.name);
      if (!checkLocal) this.broker = new ResourceBroker(this.env);
      const failures: unknown[] = [];
      const turns = new LockTurns(active.map((h) => h.name));
      // Every host from the start: remote/transport/ssh.ts bounds the concurrent ssh setups (batou's Semaphore(5) did).
      await pool(active, active.length, async (host) => {
        try {
          this.progress.set(host.name, "connecting");
          const conn = await this.connectHost(host, turns);
          this.connections.set(host.name, conn);
          this.recorder?.connected(host.name);
          this.progress.set(host.name, "configuring");
          const own = host.name === first ? [host.name, ...ignored] : [host.name];
          const scope = checkLocal ? null : own;
          const report = checkLocal ? null : own;
          const { errors, configuredHosts } = await this.configureHost(conn, scope, report);
          perHost.set(host.name, errors);
          configured.set(host.name, configuredHosts);
          this.progress.set(host.name, errors.length ? "failed" : "configured");
        } catch (e) {
          turns.settle(host.name, "none");
          this.progress.set(host.name, "failed");
          failures.push(
            ...(e instanceof StepFailed ? e.errors : rpcErrors(e, host.name, "configuring", !!this.opts.debug, {
              projectDir: this.env.connectMethod === "local" ? this.env.baseDir : undefined,
            })),
          );
        }
      });
      if (failures.length) throw new StepFailed(failures);
      if (this.broker) await this.brokerRounds(perHost);
      if ([...perHost.values()].some((l) => l.length)) throw new StepFailed([mergeErrors(perHost, configured)]);
    });
  }

  /**
   * Forwards the resources between the agents until nothing changes: agents whose forwarded values changed configure
   * again (in parallel). Then the agents print their final logs, and the errors of values that cannot cross hosts,
   * dependency cycles and unused resources (an error with `unused_resources = error`) join the agents' errors.
   */
  async brokerRounds(perHost: Map<string, ReportingError[]>): Promise<void> {
    const broker = this.broker!;
    for (let changed = broker.changed(); changed.length; changed = broker.changed()) {
      if (broker.rounds >= MAX_ROUNDS) {
        const what = (c: (typeof changed)[number]) => [
          ...broker.changedKeys(c.agent, c.resources),
          ...c.secretFiles.map((name) => `secret file ${name}`),
        ];
        const hosts = changed.map((c) => `${c.agent} (${what(c).join(", ")})`).join(", ");
        throw new StepFailed([
          new ConfigurationError(
            `The resources between hosts did not settle after ${broker.rounds} configure rounds (still changing: ${hosts})`,
          ),
        ]);
      }
      broker.rounds++;
      output.debug(`main: configure round ${broker.rounds}: ${changed.map((c) => c.agent).join(", ")}`);
      const failures: unknown[] = [];
      await Promise.all(changed.map(async ({ agent, resources, secretFiles }) => {
        const conn = this.connections.get(agent)!;
        try {
          const before = new Set(broker.sentSecretFiles(agent));
          if (secretFiles.length) output.debug(`main: ${agent} gets the secret files ${secretFiles.join(", ")}`);
          broker.sent(agent, resources, secretFiles);
          perHost.set(agent, await this.reconfigureHost(conn, resources, { before, added: secretFiles }));
        } catch (e) {
          this.progress.set(agent, "failed");
          failures.push(
            ...(e instanceof StepFailed ? e.errors : rpcErrors(e, agent, "configuring", !!this.opts.debug)),
          );
        }
      }));
      if (failures.length) throw new StepFailed(failures);
    }
    output.debug(`main: configured in ${broker.rounds} round(s)`);
    // Errors of earlier rounds (a value not forwarded yet) were not final: the last round's are.
    for (const [agent, errors] of perHost) this.progress.set(agent, errors.length ? "failed" : "configured");
    await Promise.all([...this.unreported].map(async (agent) => {
      await callAgent(this.connections.get(agent)!.peer, "configureReport", {}).catch(() => {});
    }));
    this.unreported.clear();
    const first = this.firstHost([...this.connections.values()].map((c) => c.host));
    if (first === undefined) return;
    const extra: ReportingError[] = [...broker.forwardErrors()];
    const cycle = broker.cycle();
    if (cycle) extra.push(cycle);
    // With errors, resources left unused are a follow-on: their consumers failed or were never configured.
    const failed = extra.length > 0 || [...perHost.values()].some((errors) => errors.length > 0);
    const unused = failed ? null : broker.unused();
    if (unused && this.env.unusedResources === "error") extra.push(unused);
    else if (unused) {
      output.warn("Unused provided resources");
      for (const [key, component, value] of unused.unused) {
        output.line(`    Resource "${key}" provided by ${component} with value ${value}`, { yellow: true });
      }
    }
    // Errors of the whole model: reported as the first agent's (the merged report names the hosts they concern).
    if (extra.length) perHost.set(first, [...(perHost.get(first) ?? []), ...extra]);
  }

  /**
   * Checks an agent's publication and the secret files it asks for and records them with the broker; a bad one is an
   * error naming the host.
   */
  acceptPublication(
    conn: AgentConnection,
    scope: string[],
    answer: ResourcePublication | undefined,
    reported: unknown,
    secretFiles: string[] = [],
  ): void {
    const host = conn.host.name;
    const unknownFile = secretFiles.find((name) => !Object.hasOwn(this.env.secretFiles, name));
    const problem = checkPublication(host, new Set(scope), answer, this.env) ??
      (unknownFile === undefined
        ? null
        : `it asks for the secret file ${unknownFile}, which the environment does not have`);
    if (problem) {
      const e = new DeploymentError(`${host}: the agent's configure answer was rejected: ${problem}`);
      e.affectedHostname = host;
      throw new StepFailed([e]);
    }
    this.broker!.publish(host, new Set(scope), answer!);
    this.broker!.wantSecretFiles(host, secretFiles);
    if (reported === true) this.unreported.delete(host);
    else this.unreported.add(host);
  }

  /**
   * A next configure round on the host's agent with these forwarded values and the secret files `files.added` (it
   * has `files.before` already); returns its errors.
   */
  async reconfigureHost(
    conn: AgentConnection,
    resources: ForeignResource[],
    files: { before: ReadonlySet<string>; added: string[] } = { before: new Set(), added: [] },
  ): Promise<ReportingError[]> {
    const scope = this.configuredHosts.get(conn.host.name) ?? [];
    const params: ReconfigureParams = {
      resources,
      ...forwardedSecrets(resources, this.maskValues, this.env.secretData),
    };
    if (files.added.length) {
      const sent = secretFilesFor(this.env, this.secrets, new Set(scope), files.before, files.added);
      params.secretFiles = sent.contents;
      params.secretFileMasks = { maskValues: sent.maskValues, secretData: sent.secretData };
    }
    const result = await callAgent(conn.peer, "reconfigure", params);
    this.acceptPublication(conn, scope, result.resources, result.reported, result.secretFiles);
    return result.errors.map(errorFromJSON);
  }

  /**
   * Starts the host's agent and prepares its base: local agents work in the project itself; remote agents get
   * `target_directory` (default `~/deployment`), take the deployment lock there (in the order of `turns`) and then
   * receive the project.
   */
  async connectHost(host: Host, turns?: LockTurns): Promise<AgentConnection> {
    const multi = [...this.env.hosts.values()].filter((h) => !h.ignore).length > 1;
    if (this.env.connectMethod === "local") {
      const conn = await startLocalAgent(host, this.env.baseDir, multi);
      this.traceConnection(conn);
      this.watch(conn);
      try {
        await callAgent(conn.peer, "ensureBase", { targetDirectory: this.env.baseDir });
        await this.lockInTurn(conn, turns);
      } catch (e) {
        await conn.close().catch(() => {});
        throw e;
      }
      return conn;
    }
    if (!this.opts.connectRemote) {
      throw new ConfigurationError(`connect_method ${this.env.connectMethod} is not available`);
    }
    const conn = await this.opts.connectRemote(this.env, host);
    this.traceConnection(conn);
    this.watch(conn);
    try {
      await callAgent(conn.peer, "ensureBase", { targetDirectory: this.env.targetDirectory });
      await this.lockInTurn(conn, turns);
      this.progress.set(host.name, "syncing");
      const source = this.syncSource ?? { root: this.env.baseDir, base: "", tracked: null, method: "rsync" };
      if (this.opts.syncProject) {
        await this.opts.syncProject(conn, this.env, source).catch((e) => {
          if (!(e instanceof ConnectionLost)) throw e;
          throw new StepFailed(rpcErrors(e, host.name, "syncing the project", !!this.opts.debug));
        });
      }
      // The project within what was sent (batou's deployment_base): the agent works there from now on.
      if (source.base) {
        await callAgent(conn.peer, "ensureBase", {
          targetDirectory: projectTargetDirectory(this.env.targetDirectory, source),
        });
      }
    } catch (e) {
      await conn.close().catch(() => {});
      throw e;
    }
    return conn;
  }

  /**
   * Watches the agent's liveness while it runs the project's code, for the configured timeout (`-t`,
   * `[environment] timeout`) or {@linkcode DEFAULT_LIVENESS_TIMEOUT}. When it stops responding, the other hosts are
   * asked to stop at their next component boundary, as on Ctrl-C, and the run fails.
   */
  watch(conn: AgentConnection): void {
    const timeout = this.env.timeoutConfigured ? this.env.timeout : DEFAULT_LIVENESS_TIMEOUT;
    this.watches.get(conn.host.name)?.stop();
    this.watches.set(
      conn.host.name,
      watchAgent(conn.peer, conn.host.name, timeout, (error) => {
        this.abandoned ??= error;
        conn.abort?.().catch(() => {});
        for (const other of this.connections.values()) {
          if (other !== conn) callAgent(other.peer, "stop", { reason: error.message }).catch(() => {});
        }
      }),
    );
  }

  /** With `--debug`: prints each RPC call and answer to this host, by method name and size only (never params). */
  traceConnection(conn: AgentConnection): void {
    if (this.opts.debug) traceRpc(conn.peer, conn.host.name, (line) => output.debug(line));
  }

  /**
   * Takes the host's lock once every host before it in `turns` has taken its lock or failed to connect. When one of
   * them found its lock held by another deployment, this host is not locked at all (and not reported: that error
   * explains it), so that of two controllers deploying the same hosts at once one gets all locks and runs.
   */
  async lockInTurn(conn: AgentConnection, turns?: LockTurns): Promise<void> {
    const name = conn.host.name;
    if (turns && !(await turns.wait(name))) {
      turns.settle(name, "held");
      throw new StepFailed([]);
    }
    try {
      await this.lockHost(conn);
      turns?.settle(name, "locked");
    } catch (e) {
      const held = e instanceof RpcError && e.errors.some((j) => j.type === "FileLockedError");
      turns?.settle(name, held ? "held" : "none");
      throw e;
    }
  }

  /** Takes the agent's deployment lock for this host (before anything is written there). */
  async lockHost(conn: AgentConnection): Promise<void> {
    await callAgent(conn.peer, "lock", {
      host: conn.host.name,
      holder: {
        controller: Deno.hostname(),
        pid: Deno.pid,
        started: new Date().toISOString(),
        environment: this.env.name,
      },
    });
  }

  /** The first of `hosts` in the environment's host order. */
  firstHost(hosts: Host[]): string | undefined {
    const order = (name: string) => this.env.hostOrder.indexOf(name);
    return hosts.map((h) => h.name).sort((a, b) => order(a) - order(b))[0];
  }

  /**
   * Configures the model on the host's agent: the roots of the hosts in `scope` (the first round of the broker; null:
   * the whole model, only for -c -L) and reports their logs and warnings for the hosts in `report` (null: all).
   */
  async configureHost(
    conn: AgentConnection,
    scope: string[] | null,
    report: string[] | null,
  ): Promise<{ errors: ReportingError[]; configuredHosts: string[] | null }> {
    if (scope) {
      // Only the overrides and secrets of its own roots: what other hosts' roots provide comes through the broker.
      const own = scopedSecrets(this.env, this.secrets, new Set(scope));
      const result = await this.callConfigure(conn, scope, report, own);
      this.acceptPublication(conn, scope, result.resources, result.reported, result.secretFiles);
      return { errors: result.errors, configuredHosts: [...scope].sort() };
    }
    const hostData: Record<string, Record<string, string>> = {};
    for (const [name, h] of this.env.hosts) hostData[name] = h.data;
    return await this.callConfigure(conn, scope, report, {
      overrides: this.env.overrides,
      hostData,
      secretData: [...this.env.secretData],
      maskValues: this.maskValues,
    });
  }

  /** One `configure` call with these secret-bearing parameters. */
  async callConfigure(
    conn: AgentConnection,
    scope: string[] | null,
    report: string[] | null,
    data: ScopedSecrets,
  ): Promise<
    {
      errors: ReportingError[];
      configuredHosts: string[] | null;
      resources?: ResourcePublication;
      reported?: unknown;
      secretFiles?: string[];
    }
  > {
    const params: ConfigureParams = {
      environment: this.env.name,
      host: conn.host.name,
      ...data,
      resolveOverride: this.env.resolveOverride,
      resolveV6Override: this.env.resolveV6Override,
      // A scoped agent gets the names of the secret files only; their contents when its roots read them (broker.ts).
      secretFiles: scope ? {} : this.env.secretFiles,
      ...(scope ? { secretFileNames: Object.keys(this.env.secretFiles).sort(compareStrings) } : {}),
      timeout: this.opts.timeout ?? null,
      platform: this.opts.platform ?? null,
      debug: !!this.opts.debug,
      checkAndPredictLocal: this.opts.local,
      scope,
      report,
      resources: [],
    };
    const result = await callAgent(conn.peer, "configure", params);
    return {
      errors: result.errors.map(errorFromJSON),
      configuredHosts: result.configuredHosts ?? null,
      resources: result.resources,
      reported: result.reported,
      secretFiles: result.secretFiles,
    };
  }

  async deploy(): Promise<void> {
    output.section(this.opts.predictOnly ? "Predicting deployment actions" : "Deploying");
    await this.timed("deploy", async () => {
      if (!this.connections.size) return;
      const deps = await this.rootDependencies();
      this.recorder?.setRoots(deps);
      for (const host of this.connections.keys()) {
        this.progress.total(
          host,
          deps.filter((d) => d.host === host && !d.ignore && !d.hostIgnore).length,
        );
      }
      await this.schedule(deps);
    });
  }

  /**
   * Every root with the roots it waits for. The controller's own environment gives the roots, their hosts and what
   * is ignored; the dependencies come from the broker's publications, in which each agent spoke only for the roots
   * it configures (checked when they came: broker.ts).
   */
  rootDependencies(): Promise<RootDependency[]> {
    return Promise.resolve(this.broker ? this.broker.dependencies() : rootDependencyList(this.env));
  }

  /**
   * Deploys the roots in dependency order: a root starts as soon as the roots it waits for are done, at most one
   * root at a time per host and at most `jobs` hosts at once; ties are broken by host, then root name. After a
   * failure no new root starts; the running ones finish.
   */
  async schedule(entries: RootDependency[]): Promise<void> {
    const key = (h: string, r: string) => `${h}\u0000${r}`;
    const byKey = new Map(entries.map((e) => [key(e.host, e.root), e]));
    const waiting = new Map(
      entries.map((e) => [key(e.host, e.root), new Set(e.dependencies.map(([h, r]) => key(h, r)))]),
    );
    const started = new Set<string>();
    const busyHosts = new Set<string>();
    const running = new Set<Promise<void>>();
    const errors: unknown[] = [];
    const done = (k: string) => {
      waiting.delete(k);
      for (const w of waiting.values()) w.delete(k);
    };
    const ready = () =>
      [...waiting].filter(([k, w]) => w.size === 0 && !started.has(k)).map(([k]) => byKey.get(k)!)
        .sort((a, b) => compareStrings(a.host, b.host) || compareStrings(a.root, b.root));
    this.scheduledRoots = entries.map((e) => `${e.host}: ${e.root}`);
    const outcome = (e: RootDependency, o: "running" | "ok" | "failed" | "interrupted" | "skipped") =>
      this.rootOutcomes.set(`${e.host}: ${e.root}`, o);
    const start = (e: RootDependency) => {
      const k = key(e.host, e.root);
      started.add(k);
      outcome(e, "running");
      busyHosts.add(e.host);
      output.line(`${e.host}: Scheduling component ${e.root} ...`, { icon: "⚪" });
      this.progress.set(e.host, this.opts.predictOnly ? "predicting" : "deploying");
      this.recorder?.root(e.host, e.root, "running");
      const call = callAgent(this.connections.get(e.host)!.peer, "deploy", {
        root: e.root,
        predictOnly: !!this.opts.predictOnly,
      });
      const job: Promise<void> = call.then(
        (result) => {
          outcome(e, "ok");
          this.recorder?.root(e.host, e.root, "ok", result?.changed);
          this.progress.rootDone(e.host);
          done(k);
        },
        (err) => {
          if ((this.interrupt.requested || this.abandoned) && isStop(err)) {
            outcome(e, "interrupted");
            this.recorder?.root(e.host, e.root, "interrupted");
            this.progress.set(e.host, "interrupted");
            return;
          }
          outcome(e, "failed");
          this.recorder?.root(e.host, e.root, "failed");
          this.progress.set(e.host, "failed");
          errors.push(
            ...rpcErrors(err, e.host, `deploying ${e.root}`, !!this.opts.debug, {
              root: e.root,
              projectDir: this.env.connectMethod === "local" ? this.env.baseDir : undefined,
            }),
          );
        },
      ).finally(() => {
        busyHosts.delete(e.host);
        running.delete(job);
      });
      running.add(job);
    };
    while (errors.length === 0 && !this.interrupt.requested) {
      for (let next = ready(); next.length; next = ready()) {
        const skip = next.find((e) => e.hostIgnore || e.ignore || !this.connections.has(e.host));
        if (!skip) {
          for (const e of next) {
            if (!busyHosts.has(e.host) && busyHosts.size < this.jobs) start(e);
          }
          break;
        }
        const hostIgnored = skip.hostIgnore || !this.connections.has(skip.host);
        const unselected = this.selected !== null && !this.selected.has(skip.host);
        const why = unselected ? "Host not selected" : hostIgnored ? "Host ignored" : "Component ignored";
        output.line(
          `${skip.host}: Skipping component ${skip.root} ... (${why})`,
          { icon: "⏭️", red: skip.hostIgnore },
        );
        this.recorder?.root(skip.host, skip.root, "skipped");
        outcome(skip, "skipped");
        started.add(key(skip.host, skip.root));
        done(key(skip.host, skip.root));
      }
      if (running.size === 0) {
        if (waiting.size) {
          const left = [...waiting.keys()].map((k) => `${byKey.get(k)!.host}:${byKey.get(k)!.root}`);
          errors.push(new DeploymentError(`Could not schedule: ${left.join(", ")}`));
        }
        break;
      }
      await Promise.race([...running, this.interrupt.signalled]);
    }
    await Promise.all(running);
    if (errors.length) throw new StepFailed(errors);
    if (this.interrupt.requested) throw new RunInterrupted();
  }

  summarize(): Promise<void> {
    output.section("Summary");
    const connect = this.timings.get("connect") ?? 0;
    const deployT = this.timings.get("deploy") ?? 0;
    if (this.opts.consistencyOnly) output.line(`Consistency check took total=${formatDuration(connect)}`);
    else {
      output.line(
        `Deployment took total=${formatDuration(connect + deployT)}, connect=${formatDuration(connect)}, deploy=${
          formatDuration(deployT)
        }`,
      );
    }
    return Promise.resolve();
  }

  async disconnect(): Promise<void> {
    this.progress.clear();
    output.debug("main: Disconnecting from nodes ...", { icon: null });
    for (const w of this.watches.values()) w.stop();
    this.watches.clear();
    await Promise.all([...this.connections.values()].map((c) => c.close().catch(() => {})));
    this.connections.clear();
  }
}

/** How a host's turn at the deployment lock ended: locked, held by another deployment, or no lock taken. */
export type LockOutcome = "locked" | "held" | "none";

/**
 * Orders the deployment locks of one run: a host takes its lock only after every host before it (in the given
 * order, the same in every controller) has settled. Two controllers deploying the same hosts at once therefore never
 * hold one lock each (which would fail both): whoever gets the first host's lock gets all of them.
 */
export class LockTurns {
  #order: string[];
  #settled = new Map<string, { promise: Promise<LockOutcome>; resolve: (o: LockOutcome) => void; done: boolean }>();

  constructor(names: string[]) {
    this.#order = [...names];
    for (const name of names) {
      let resolve!: (o: LockOutcome) => void;
      const promise = new Promise<LockOutcome>((r) => resolve = r);
      this.#settled.set(name, { promise, resolve, done: false });
    }
  }

  /** Waits for the hosts before `name`; false when one of them found its lock held by another deployment. */
  async wait(name: string): Promise<boolean> {
    const before = this.#order.slice(0, Math.max(0, this.#order.indexOf(name)));
    const outcomes = await Promise.all(before.map((n) => this.#settled.get(n)!.promise));
    return !outcomes.includes("held");
  }

  /** Records how `name`'s turn ended (only the first call counts). */
  settle(name: string, outcome: LockOutcome): void {
    const entry = this.#settled.get(name);
    if (!entry || entry.done) return;
    entry.done = true;
    entry.resolve(outcome);
  }
}

/** What the controller writes into `.batou-lock` once it holds it: who, which process, since when (JSON). */
function localLockHolder(): string {
  let host = "?";
  try {
    host = Deno.hostname();
  } catch { /* no hostname: "?" */ }
  const user = Deno.env.get("USER") ?? Deno.env.get("LOGNAME") ?? "?";
  return JSON.stringify({ controller: `${user}@${host}`, pid: Deno.pid, started: new Date().toISOString() }) + "\n";
}

/** The holder of `.batou-lock` as `user@host (pid N, started T)`, read from the file (retried while it is written). */
async function readLocalLockHolder(path: string): Promise<string> {
  for (let attempt = 0; attempt < 10; attempt++) {
    try {
      const text = (await Deno.readTextFile(path)).trim();
      if (/^\d+$/.test(text)) return `pid ${text}`; // written by an older batou: only the pid
      const h = JSON.parse(text);
      return `${h.controller ?? "?"} (pid ${h.pid ?? "?"}, started ${h.started ?? "?"})`;
    } catch { /* the holder is still writing */ }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return "an unknown process";
}
