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
import type {
  AgentMethod,
  AgentStats,
  ConfigureParams,
  ConfigureResult,
  LockHolder,
  RootDependency,
} from "../contract/methods.ts";
import { createSyncHandlers } from "./sync_agent.ts";
import { createRunHandlers, stopCommands } from "./run_agent.ts";
import { naming } from "../../core/runtime/fsops.ts";
import { requestDeployStop } from "../../core/model/component.ts";
import type { ForeignResource } from "../../core/model/resource_exchange.ts";
import { touchAgentStamps } from "./stamps.ts";

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

function currentUser(): string {
  return Deno.env.get("USER") ?? Deno.env.get("LOGNAME") ?? String(Deno.uid?.() ?? "unknown");
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
  /**
   * Tells the controller which root is configured next, once that is written (a `configuring` notification): a
   * configure that never finishes, even in a synchronous loop that stops this agent answering, is named by it.
   */
  announceRoot: ((host: string, root: string) => Promise<void>) | null = null;

  constructor(readonly modules: Record<string, unknown>, readonly version: string) {}

  /** The RPC methods served: those of the contract (remote/contract/methods.ts). */
  handlers(): Record<AgentMethod, RpcHandler> {
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
      lock: (p) => this.lock(String(p.host), p.holder as unknown as LockHolder),
      configure: (p) => this.configure(p as unknown as ConfigureParams),
      reconfigure: (p) => {
        const masks = (p.secretFileMasks ?? {}) as { maskValues?: unknown; secretData?: unknown };
        return this.reconfigure(
          Array.isArray(p.resources) ? p.resources as ForeignResource[] : [],
          strings(p.maskValues),
          strings(p.secretData),
          {
            contents: textRecord(p.secretFiles),
            maskValues: strings(masks.maskValues),
            secretData: strings(masks.secretData),
          },
        );
      },
      configureReport: () => this.configureReport(),
      deploy: (p) => this.deploy(String(p.root), Boolean(p.predictOnly)),
      stop: (p) => this.stop(String(p.reason ?? "interrupted")),
      ping: () => ({ alive: true }),
      stats: () => agentStats(),
      ...createSyncHandlers(() => this.#requireBase()),
      ...createRunHandlers(() => this.#requireBase(), (method, params) => {
        if (output.backend instanceof ChannelBackend) output.backend.peer.notify(method, { ...params });
      }),
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
  async lock(host: string, holder: LockHolder): Promise<{ locked: true }> {
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
    const announce = this.announceRoot;
    if (announce) env.beforeRootConfigure = (root) => announce(root.host.name, root.name);
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
   * values among them (`maskValues`, `secretData`) are masked as this host's own. `files` are the secret files the
   * last round asked for, with their masking data (kept as this host's own for all later rounds).
   */
  async reconfigure(
    resources: ForeignResource[],
    maskValues: string[],
    secretData: string[],
    files: { contents: Record<string, string>; maskValues: string[]; secretData: string[] } = {
      contents: {},
      maskValues: [],
      secretData: [],
    },
  ): Promise<ConfigureResult> {
    const env = this.#requireEnv();
    if (!this.#scope) throw new Error("reconfigure needs a scoped configure first");
    env.receiveSecretFiles(files.contents);
    this.#ownSecrets = {
      maskValues: [...this.#ownSecrets.maskValues, ...files.maskValues],
      secretData: [...this.#ownSecrets.secretData, ...files.secretData],
    };
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
    const wanted = env.wantedSecretFiles;
    if (wanted.length) result.secretFiles = wanted;
    if (this.#scope && env.publication) {
      result.resources = env.publication;
      // Roots that require nothing and read no secret file still to come get nothing more: no other round can
      // follow, the report is final.
      result.reported = env.publication.requires.length === 0 && wanted.length === 0;
      if (result.reported) env.printConfigureReport();
    }
    return result;
  }

  #requireEnv(): Environment {
    if (!this.#env) throw new Error("configure must be called first");
    return this.#env;
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

function textRecord(value: unknown): Record<string, string> {
  if (!value || typeof value !== "object" || Array.isArray(value)) return {};
  return Object.fromEntries(Object.entries(value).filter((e): e is [string, string] => typeof e[1] === "string"));
}

function strings(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === "string") : [];
}

/** Runs the agent on stdin/stdout until the controller closes the connection. */
export async function runAgent(modules: Record<string, unknown>, version: string): Promise<void> {
  touchAgentStamps();
  const agent = new Agent(modules, version);
  const peer = new RpcPeer(Deno.stdin, Deno.stdout, {});
  Object.assign(peer.handlers, agent.handlers());
  // Served while a request runs: stopping, and the controller's liveness check (remote/transport/liveness.ts).
  peer.immediate.add("stop");
  peer.immediate.add("ping");
  agent.announceRoot = (host, root) => peer.notifyWritten("configuring", { host, root });
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
  stopCommands();
  await agent.idle();
  // Requests that came before the end are still answered (a controller may send and close at once).
  await peer.served();
  agent.release();
}

export { AggregateReport };
export type { AgentStats, ConfigureParams, ConfigureResult, RootDependency };
