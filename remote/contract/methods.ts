/**
 * The agent's RPC methods, declared once for both sides: each method's parameters (a type; the controller is the
 * trusted side) and its result (a run-time {@linkcode Check}, since a target host is untrusted: every answer the
 * controller gets is checked against it, see {@linkcode enforceAgentContract}), and the notifications the controller
 * acts on. A method that is not declared here cannot be called: its answers are rejected.
 *
 * @example
 * ```ts
 * enforceAgentContract(peer, "host3");
 * const result = await callAgent(peer, "configure", params); // a ConfigureResult, checked
 * ```
 * @module
 */
import {
  bool,
  type Check,
  errorJSON,
  type Infer,
  list,
  nullable,
  num,
  object,
  oneOf,
  optional,
  record,
  str,
  tuple,
  unknownValue,
} from "./check.ts";
import { InvalidMessage, type RpcPeer } from "./protocol.ts";
import type { ManifestEntry } from "./sync_manifest.ts";
import type { ForeignResource } from "../../core/model/resource_exchange.ts";
import type { WireValue } from "../../core/model/resource_values.ts";

const helloResult = object({
  protocol: num,
  version: str,
  pid: num,
  user: str,
  uid: nullable(num),
  home: nullable(str),
  hostname: str,
  os: str,
  arch: str,
});
/** What the agent says about itself in the handshake. */
export type HelloInfo = Infer<typeof helloResult>;

/** A resource value on the wire: plain JSON, decoded and checked by core/model/resource_values.ts. */
const wireValue = unknownValue as Check<WireValue>;

/** What one root provides under one key (core/model/resource_exchange.ts `ProvidedResource`). */
const providedResource = object({
  host: str,
  root: str,
  key: str,
  count: num,
  values: optional(list(wireValue)),
  unserialisable: optional(str),
  display: str,
});

/** One requirement of one root (core/model/resource_exchange.ts `RequiredResource`). */
const requiredResource = object({
  host: str,
  root: str,
  key: str,
  strict: bool,
  onHost: nullable(str),
  reverse: bool,
  dirty: bool,
});

const configureResult = object({
  /** The errors, as JSON (empty when all is well). */
  errors: list(errorJSON),
  /** The hosts whose roots were configured, or null for all of them. */
  configuredHosts: nullable(list(str)),
  /**
   * With a `scope`: what its roots provide and require, for the controller's resource broker (what the entries say
   * is checked against the agent's own roots by remote/controller/broker.ts `checkPublication`).
   */
  resources: optional(object({ provides: list(providedResource), requires: list(requiredResource) })),
  /**
   * With a `scope`: whether the logs and warnings were printed already (roots that require nothing); otherwise
   * `configureReport` prints them once the broker is done.
   */
  reported: optional(bool),
  /**
   * The names of the environment's secret files that its roots read in configure and whose contents it does not
   * have yet (configure params `secretFileNames`): the controller sends them with the next `reconfigure`. Absent or
   * empty when there are none. Checked against the environment's secret files by the controller (deploy.ts).
   */
  secretFiles: optional(list(str)),
});
/** What the agent's `configure` method returns. */
export type ConfigureResult = Infer<typeof configureResult>;

const rootDependency = object({
  host: str,
  root: str,
  ignore: bool,
  hostIgnore: bool,
  dependencies: list(tuple(str, str)),
});
/** One root's dependencies as the controller schedules them. */
export type RootDependency = Infer<typeof rootDependency>;

const statsResult = object({ rssPeakKiB: nullable(num), rssKiB: nullable(num), cpuMs: nullable(num) });
/**
 * What the agent's `stats` method reports: peak and current resident set size (VmHWM, VmRSS) in KiB, from
 * `/proc/self/status` (null where there is none), and CPU time (user + system) in ms (null where it cannot be read).
 */
export type AgentStats = Infer<typeof statsResult>;

const syncPlan = object({
  /** Paths (in manifest order) whose entry must be sent with `syncPut`. */
  need: list(str),
  /** Files whose content matches but whose mode differs (a `mode` operation fixes them). */
  modes: list(str),
  /** Paths to remove, children before their directory (`syncDelete`). */
  delete: list(str),
  /** Files the agent had to hash (not vouched for by its cache). */
  hashed: num,
});
/** The agent's answer to `syncManifest`. */
export type SyncPlan = Infer<typeof syncPlan>;

/** Parameters of the agent's `configure` method. */
export interface ConfigureParams {
  environment: string;
  host: string;
  overrides: Record<string, Record<string, string>>;
  resolveOverride: Record<string, string>;
  resolveV6Override: Record<string, string>;
  /** The contents of secret files: all of them unless `secretFileNames` is given, then only those sent so far. */
  secretFiles: Record<string, string>;
  /**
   * With `scope`: the names of all the environment's secret files (names are not secret). A root that reads one whose
   * content is not in `secretFiles` is retried, and the result's `secretFiles` asks for it (issue 15).
   */
  secretFileNames?: string[];
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

/** Parameters of `reconfigure`: the next round of a brokered configure, on the model loaded by `configure`. */
export interface ReconfigureParams {
  /** Values of other hosts' roots, only under keys this agent's roots require. */
  resources: ForeignResource[];
  /** The secret values among the forwarded values and their masking words: masked as the host's own. */
  maskValues?: string[];
  secretData?: string[];
  /** The contents of the secret files the last answer asked for (only those). */
  secretFiles?: Record<string, string>;
  /** The masking values and words of those secret files: masked as the host's own from now on. */
  secretFileMasks?: { maskValues: string[]; secretData: string[] };
}

/** One operation of `syncPut`. `data` is base64, gzip-compressed when `gzip` is set. */
export type PutEntry =
  | { op: "dir"; path: string; mode: number }
  | { op: "symlink"; path: string; target: string }
  | { op: "file"; path: string; mode: number; sha256: string; data: string; gzip: boolean }
  | {
    op: "chunk";
    path: string;
    mode: number;
    sha256: string;
    offset: number;
    last: boolean;
    data: string;
    gzip: boolean;
  }
  | { op: "mode"; path: string; mode: number };

/** Parameters of the agent's `runCommand` method (`batou run`): a `/bin/sh -c` command line. */
export interface RunCommandParams {
  command: string;
}

const runCommandResult = object({ code: nullable(num), signal: nullable(str) });
/** The answer of `runCommand`: the exit code, or the signal that ended the command (then `code` is null). */
export type RunCommandResult = Infer<typeof runCommandResult>;

const commandOutput = object({ stream: oneOf("stdout", "stderr"), text: str });
/** The `commandOutput` notification: one line (without its newline) the command wrote, while it runs. */
export type CommandOutputParams = Infer<typeof commandOutput>;

/** Who takes a deployment lock (written into the lock file). */
export interface LockHolder {
  controller: string;
  pid: number;
  started: string;
  environment: string;
}

/** Declares one method: its parameters' type and its result's check. */
function method<P, R>(result: Check<R>): { params?: P; result: Check<R> } {
  return { result };
}

/** Every method of the agent: parameters and result. */
export const AGENT_METHODS = {
  hello: method<{ protocol: number }, HelloInfo>(helloResult),
  ensureBase: method<{ targetDirectory: string }, { baseDir: string }>(object({ baseDir: str })),
  lock: method<{ host: string; holder: LockHolder }, { locked: true }>(object({ locked: oneOf(true) })),
  configure: method<ConfigureParams, ConfigureResult>(configureResult),
  reconfigure: method<ReconfigureParams, ConfigureResult>(configureResult),
  configureReport: method<Record<string, never>, { reported: true }>(object({ reported: oneOf(true) })),
  deploy: method<{ root: string; predictOnly: boolean }, { changed: boolean }>(object({ changed: bool })),
  stop: method<{ reason: string }, { stopped: true }>(object({ stopped: oneOf(true) })),
  ping: method<Record<string, never>, { alive: true }>(object({ alive: oneOf(true) })),
  stats: method<Record<string, never>, AgentStats>(statsResult),
  syncManifest: method<{ entries: ManifestEntry[] }, SyncPlan>(syncPlan),
  syncPut: method<{ entries: PutEntry[] }, { written: number }>(object({ written: num })),
  syncDelete: method<{ paths: string[] }, { deleted: number; kept: number }>(object({ deleted: num, kept: num })),
  runCommand: method<RunCommandParams, RunCommandResult>(runCommandResult),
};

/** The name of an agent method. */
export type AgentMethod = keyof typeof AGENT_METHODS;
/** The parameters of agent method `M`. */
export type AgentParams<M extends AgentMethod> = NonNullable<(typeof AGENT_METHODS)[M]["params"]>;
/** The result of agent method `M`. */
export type AgentResult<M extends AgentMethod> = Infer<(typeof AGENT_METHODS)[M]["result"]>;

/** The error answer of any method (JSON-RPC's error object with batou's reports in `data`). */
const errorAnswer = object({
  code: num,
  message: str,
  data: optional(object({ errors: optional(list(errorJSON)), stack: optional(str) })),
});

/** The notifications from the agent that the controller acts on, by method (others are ignored). */
const NOTIFICATIONS: Record<string, Check<unknown>> = {
  output: object({
    cmd: optional(oneOf("line", "sep")),
    text: optional(str),
    char: optional(str),
    title: optional(str),
    fmt: optional(record(unknownValue)),
  }),
  /** The agent starts configuring this root (remote/transport/liveness.ts names it when it does not finish). */
  configuring: object({ host: str, root: str }),
  /** One line of a `runCommand` while it runs (`batou run`). */
  commandOutput,
};

/**
 * What is wrong with the answer `reply` (its `result` or `error`) to a call of `method`, or null. A method not
 * declared in {@linkcode AGENT_METHODS} has no valid answer.
 */
export function replyProblem(method: string, reply: { result?: unknown; error?: unknown }): string | null {
  if (reply.error !== undefined) {
    const problem = errorAnswer(reply.error, "");
    return problem && problem.replace(/^the result/, "the error");
  }
  const declared = (AGENT_METHODS as Record<string, { result: Check<unknown> }>)[method];
  if (!declared) return `remote/contract/methods.ts declares no method ${method}`;
  return declared.result(reply.result, "");
}

/** What is wrong with notification `method` (null when nothing is, or when the controller does not act on it). */
export function notificationProblem(method: string, params: unknown): string | null {
  return NOTIFICATIONS[method]?.(params, "params") ?? null;
}

/**
 * Makes `peer` (the controller's end of the connection to `host`'s agent) check every answer and notification
 * against this contract: a call with an invalid answer fails with {@linkcode InvalidMessage}
 * (`host3: the agent sent an invalid reply to configure (errors[0].fields must be an object, not null)`), and an
 * invalid notification ends the connection with such an error.
 */
export function enforceAgentContract(peer: RpcPeer, host: string): void {
  peer.checkReply = (method, reply) => {
    const problem = replyProblem(method, reply);
    return problem === null
      ? null
      : new InvalidMessage(`${host}: the agent sent an invalid reply to ${method} (${problem})`);
  };
  peer.checkNotification = (method, params) => {
    const problem = notificationProblem(method, params);
    return problem === null
      ? null
      : new InvalidMessage(`${host}: the agent sent an invalid ${method} notification (${problem})`);
  };
}

/** Calls agent method `method` with typed parameters; the result is checked when the peer enforces the contract. */
export function callAgent<M extends AgentMethod>(
  peer: RpcPeer,
  method: M,
  params: AgentParams<M>,
): Promise<AgentResult<M>> {
  return peer.call<AgentResult<M>>(method, params as unknown as Record<string, unknown>);
}
