/**
 * `batou agent`: the side that runs on a target host. It speaks JSON-RPC on
 * stdin/stdout, loads the (synced) project, configures its host's roots with
 * the overrides and secrets of those roots the controller sends (in rounds,
 * with the resources of other hosts' roots the controller brokers; see
 * remote/contract/broker.ts), and deploys the root
 * components it is asked for, streaming its output back as notifications.
 *
 * Nothing may write to stdout except the protocol: `console.*` is redirected
 * into the output channel.
 *
 * @module
 */
import { isAbsolute, join } from "../../core/runtime/path.ts";
import { Environment } from "../../core/model/environment.ts";
import { type Format, output, type OutputBackend } from "../../core/model/output.ts";
import { FileLockedError, type ReportingError, sortErrors } from "../../core/model/errors.ts";
import { AggregateReport, PROTOCOL_VERSION, type RpcHandler, RpcPeer } from "../contract/protocol.ts";
import { expandHome } from "../contract/paths.ts";
import { createSyncHandlers } from "./sync_agent.ts";
import { naming } from "../../core/runtime/fsops.ts";
import { requestDeployStop } from "../../core/model/component.ts";
import type { ForeignResource, ResourcePublication } from "../../core/model/resource_exchange.ts";

/** Sends output lines to the controller as `output` notifications. */
export class ChannelBackend implements OutputBackend {
  constructor(readonly peer: RpcPeer) {}

  line(text: string, fmt: Format): void {
    this.peer.notify("output", { cmd: "line", text, fmt });
  }

  sep(char: string, title: string, fmt: Format): void {
    this.peer.notify("output", { cmd: "sep", char, title, fmt });
  }
}

/** Parameters of the agent's `configure` method. */
export interface ConfigureParams {
  environment: string;
  host: string;
  overrides: Record<string, Record<string, string>>;
  resolveOverride: Record<string, string>;
  resolveV6Override: Record<string, string>;
  secretFiles: Record<string, string>;
  secretData: string[];
  /** Secret values to mask in all output. */
  maskValues: string[];
  hostData: Record<string, Record<string, string>>;
  timeout: number | null;
  platform: string | null;
  debug: boolean;
  checkAndPredictLocal?: boolean;
  /**
   * Configure only the roots of these hosts (the first round of a brokered configure; see Environment.configure);
   * all roots when absent.
   */
  scope?: string[] | null;
  /** Print logs and warnings only for roots of these hosts; for all when absent. */
  report?: string[] | null;
  /** With `scope`: values of other hosts' roots under the keys these roots require (none in the first round). */
  resources?: ForeignResource[];
}

/** What the agent's `configure` method returns. */
export interface ConfigureResult {
  /** The errors, as JSON (empty when all is well). */
  errors: unknown[];
  /** The hosts whose roots were configured, or null for all of them. */
  configuredHosts: string[] | null;
  /** With a `scope`: what its roots provide and require, for the controller's resource broker. */
  resources?: ResourcePublication;
  /**
   * With a `scope`: whether the logs and warnings were printed already (roots that require nothing); otherwise
   * `configureReport` prints them once the broker is done.
   */
  reported?: boolean;
}

/** One root's dependencies as the controller schedules them. */
export interface RootDependency {
  host: string;
  root: string;
  ignore: boolean;
  hostIgnore: boolean;
  dependencies: [string, string][];
}

/**
 * Every root of `env` with the roots it waits for (from the resources its configure used; none for an environment
 * whose roots use no resources, also one not configured at all).
 */
export function rootDependencyList(env: Environment): RootDependency[] {
  const out: RootDependency[] = [];
  for (const [root, deps] of env.rootDependencies()) {
    out.push({
      host: root.host.name,
      root: root.name,
      ignore: root.ignore,
      hostIgnore: root.host.ignore,
      dependencies: [...deps].map((d) => [d.host.name, d.name]),
    });
  }
  return out;
}

function currentUser(): string {
  return Deno.env.get("USER") ?? Deno.env.get("LOGNAME") ?? String(Deno.uid?.() ?? "unknown");
}

/**
 * What the agent's `stats` method reports: its memory, from `/proc/self/status` (null where there is none), and CPU
 * time (null where it cannot be read).
 */
export interface AgentStats {
  /** Peak resident set size (VmHWM) in KiB. */
  rssPeakKiB: number | null;
  /** Current resident set size (VmRSS) in KiB. */
  rssKiB: number | null;
  /** CPU time used by the agent process so far (user + system), in milliseconds. */
  cpuMs: number | null;
}

/** Reads the agent process's memory figures (Linux `/proc/self/status`; null elsewhere) and CPU time. */
export async function agentStats(): Promise<AgentStats> {
  let status = "";
  try {
    status = await Deno.readTextFile("/proc/self/status");
  } catch { /* not Linux */ }
  const kib = (key: string) => {
    const m = new RegExp(`^${key}:\\s*(\\d+)\\s*kB`, "m").exec(status);
    return m ? Number(m[1]) : null;
  };
  return { rssPeakKiB: kib("VmHWM"), rssKiB: kib("VmRSS"), cpuMs: await cpuMilliseconds() };
}

/**
 * The process's CPU time (user + system) in ms: from `Deno.cpuUsage` (microseconds, as `node:process`' `cpuUsage`,
 * whose import would initialise Deno's Node compatibility layer), else from `/proc/self/stat` (clock ticks of
 * 10 ms), else null.
 */
export async function cpuMilliseconds(): Promise<number | null> {
  const usage = (Deno as unknown as { cpuUsage?: () => { user: number; system: number } }).cpuUsage;
  if (typeof usage === "function") {
    const cpu = usage();
    return Math.round((cpu.user + cpu.system) / 1000);
  }
  try {
    return procStatCpuMs(await Deno.readTextFile("/proc/self/stat"));
  } catch {
    return null;
  }
}

/** User + system CPU time in ms from the text of `/proc/<pid>/stat` (Linux's clock ticks are 10 ms); null if unreadable. */
export function procStatCpuMs(stat: string): number | null {
  // The fields after the command name (which may hold spaces and parentheses): utime and stime are the 12th and 13th.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(fields[11]) + Number(fields[12]);
  return Number.isFinite(ticks) ? ticks * 10 : null;
}

/**
 * Who holds the lock file at `path`. The holder writes its details right after taking the lock, so an empty or
 * half-written file is read again for a moment before giving up.
 */
async function readHolder(path: string): Promise<string> {
  for (let attempt = 0; attempt < 20; attempt++) {
    try {
      const h = JSON.parse(await Deno.readTextFile(path));
      // The agent's pid too: after a lost connection the holder is that agent, still finishing, not the controller.
      return `${h.controller ?? "?"} (pid ${h.pid ?? "?"}, started ${h.started ?? "?"}; agent pid ${
        h.agentPid ?? "?"
      })`;
    } catch { /* the holder is still writing */ }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return "unknown holder";
}

/** The agent's state and its RPC methods. */
export class Agent {
  #env: Environment | null = null;
  #baseDir: string | null = null;
  #lock: Deno.FsFile | null = null;
  #hostName = "";
  /** The hosts whose roots this agent configures (null: all). */
  #scope: Set<string> | null = null;
  #report: Set<string> | undefined = undefined;
  /** The masking words of this host's own secrets (a round adds those of forwarded values). */
  #ownSecrets: { maskValues: string[]; secretData: string[] } = { maskValues: [], secretData: [] };
  #running = new Set<Promise<void>>();

  constructor(readonly modules: Record<string, unknown>, readonly version: string) {}

  /** The RPC methods served. */
  handlers(): Record<string, RpcHandler> {
    return {
      hello: () => ({
        protocol: PROTOCOL_VERSION,
        version: this.version,
        pid: Deno.pid,
        user: currentUser(),
        uid: Deno.uid?.() ?? null,
        home: Deno.env.get("HOME") ?? null,
        hostname: Deno.hostname(),
        os: Deno.build.os,
        arch: Deno.build.arch,
      }),
      ensureBase: (p) => this.ensureBase(String(p.targetDirectory)),
      lock: (p) => this.lock(String(p.host), p.holder as Record<string, unknown>),
      configure: (p) => this.configure(p as unknown as ConfigureParams),
      reconfigure: (p) =>
        this.reconfigure(
          Array.isArray(p.resources) ? p.resources as ForeignResource[] : [],
          strings(p.maskValues),
          strings(p.secretData),
        ),
      configureReport: () => this.configureReport(),
      rootDependencies: (p) => this.rootDependencies(typeof p.host === "string" ? p.host : null),
      deploy: (p) => this.deploy(String(p.root), Boolean(p.predictOnly)),
      stop: (p) => this.stop(String(p.reason ?? "interrupted")),
      stats: () => agentStats(),
      ...createSyncHandlers(() => this.#requireBase()),
    };
  }

  #requireBase(): string {
    if (!this.#baseDir) throw new Error("ensureBase must be called first");
    return this.#baseDir;
  }

  /** Creates (if needed) and remembers the deployment base directory. */
  async ensureBase(targetDirectory: string): Promise<{ baseDir: string }> {
    let dir = expandHome(targetDirectory);
    // Relative to the home directory, where an ssh login starts (not to the agent's own directory).
    const home = Deno.env.get("HOME");
    if (!isAbsolute(dir) && home) dir = join(home, dir);
    try {
      await Deno.mkdir(dir, { recursive: true });
    } catch (e) {
      throw naming(e, `Cannot create the target directory ${dir} as ${currentUser()}`);
    }
    this.#baseDir = await Deno.realPath(dir);
    return { baseDir: this.#baseDir };
  }

  /** Takes the deployment lock of the base directory, or fails naming the holder. */
  async lock(host: string, holder: Record<string, unknown>): Promise<{ locked: true }> {
    const base = this.#requireBase();
    if (!/^[A-Za-z0-9_.:-]+$/.test(host)) throw new Error(`Invalid host name ${host}`);
    const path = join(base, `.batou-lock-${host}`);
    let file: Deno.FsFile;
    try {
      file = await Deno.open(path, { create: true, read: true, write: true });
    } catch (e) {
      throw naming(e, `Cannot take the deployment lock in the target directory ${base} as ${currentUser()}`);
    }
    if (!(await file.tryLock(true))) {
      file.close();
      throw FileLockedError.of(path, `another deployment: ${await readHolder(path)}`);
    }
    await file.truncate(0);
    await file.write(new TextEncoder().encode(JSON.stringify({ ...holder, agentPid: Deno.pid }) + "\n"));
    this.#lock = file;
    return { locked: true };
  }

  /** Loads and configures the model (the whole model, or the roots in `p.scope`); returns the errors. */
  async configure(p: ConfigureParams): Promise<ConfigureResult> {
    const base = this.#requireBase();
    output.enableDebug = p.debug;
    output.setSecrets(p.maskValues ?? []);
    const env = new Environment(p.environment, {
      baseDir: base,
      platform: p.platform,
      timeout: p.timeout,
      checkAndPredictLocal: p.checkAndPredictLocal,
    });
    env.manageCwd = true;
    this.#env = env;
    this.#hostName = p.host;
    env.load(this.modules, p);
    this.#ownSecrets = { maskValues: p.maskValues ?? [], secretData: [...env.secretData] };
    this.#scope = p.scope ? new Set(p.scope) : null;
    this.#report = p.report ? new Set(p.report) : undefined;
    return await this.#configureRound(p.resources ?? []);
  }

  /**
   * Configures the roots of the scope again with other hosts' values the broker forwarded (a next round); the secret
   * values among them (`maskValues`, `secretData`) are masked as this host's own.
   */
  async reconfigure(
    resources: ForeignResource[],
    maskValues: string[],
    secretData: string[],
  ): Promise<ConfigureResult> {
    const env = this.#requireEnv();
    if (!this.#scope) throw new Error("reconfigure needs a scoped configure first");
    output.setSecrets([...this.#ownSecrets.maskValues, ...maskValues]);
    env.secretData = new Set([...this.#ownSecrets.secretData, ...secretData]);
    return await this.#configureRound(resources);
  }

  /** Prints the logs and warnings of the last configure round (when the broker is done). */
  configureReport(): { reported: true } {
    this.#requireEnv().printConfigureReport();
    return { reported: true };
  }

  async #configureRound(resources: ForeignResource[]): Promise<ConfigureResult> {
    const env = this.#requireEnv();
    const errors = await env.configure({
      hosts: this.#scope ?? undefined,
      report: this.#report,
      foreign: resources,
      deferReport: true,
    });
    const result: ConfigureResult = {
      errors: sortErrors(errors).map((e) => (e as ReportingError).toJSON()),
      configuredHosts: env.configuredHosts,
    };
    if (this.#scope && env.publication) {
      result.resources = env.publication;
      // Roots that require nothing get nothing forwarded: no other round can follow, the report is final.
      result.reported = env.publication.requires.length === 0;
      if (result.reported) env.printConfigureReport();
    }
    return result;
  }

  #requireEnv(): Environment {
    if (!this.#env) throw new Error("configure must be called first");
    return this.#env;
  }

  /** The roots of `host` (all roots when null) with the roots they wait for. */
  rootDependencies(host: string | null): RootDependency[] {
    const all = rootDependencyList(this.#requireEnv());
    return host === null ? all : all.filter((r) => r.host === host);
  }

  /** Deploys one root of this host. */
  deploy(rootName: string, predictOnly: boolean): Promise<{ changed: boolean }> {
    const run = this.#deploy(rootName, predictOnly);
    const settled = run.then(() => {}, () => {});
    this.#running.add(settled);
    settled.finally(() => this.#running.delete(settled));
    return run;
  }

  async #deploy(rootName: string, predictOnly: boolean): Promise<{ changed: boolean }> {
    const env = this.#requireEnv();
    const root = env.getRoot(rootName, this.#hostName);
    try {
      await root.deploy(predictOnly);
    } catch (e) {
      output.flushBuffer();
      throw e;
    }
    return { changed: root.component?.changed ?? false };
  }

  /**
   * Stops deploying at the next component boundary (the component being verified or updated finishes first); a
   * root being deployed then fails with {@linkcode DeploymentStopped}, and later deploy calls fail at once.
   */
  stop(reason: string): { stopped: true } {
    requestDeployStop(reason);
    return { stopped: true };
  }

  /** Resolves when no root is being deployed. */
  async idle(): Promise<void> {
    while (this.#running.size) await Promise.all([...this.#running]);
  }

  /** Releases the lock. */
  release(): void {
    try {
      this.#lock?.close();
    } catch { /* closed */ }
    this.#lock = null;
  }
}

function strings(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === "string") : [];
}

/** Runs the agent on stdin/stdout until the controller closes the connection. */
export async function runAgent(modules: Record<string, unknown>, version: string): Promise<void> {
  const agent = new Agent(modules, version);
  const peer = new RpcPeer(Deno.stdin.readable, Deno.stdout.writable, {});
  Object.assign(peer.handlers, agent.handlers());
  peer.immediate.add("stop");
  output.backend = new ChannelBackend(peer);
  const toOutput = (...args: unknown[]) =>
    output.line(args.map((a) => typeof a === "string" ? a : Deno.inspect(a)).join(" "));
  console.log = toOutput;
  console.info = toOutput;
  console.warn = toOutput;
  console.error = toOutput;
  console.debug = (...args: unknown[]) => output.debug(args.map(String).join(" "));
  await peer.closed;
  // The controller went away (it was stopped, or its connection was lost): stop at the next component boundary,
  // then release the lock. The caller exits the process, so nothing keeps running after the current component.
  agent.stop("the controller went away");
  await agent.idle();
  // Requests that came before the end are still answered (a controller may send and close at once).
  await peer.served();
  agent.release();
}

export { AggregateReport };
