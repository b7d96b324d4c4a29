/**
 * `batou run ENV [--hosts H] [-j N] -- CMD...`: one ad-hoc command on the environment's hosts (Ansible's
 * `-m shell`, pyinfra's `exec`), through the same agent connection and service user as a deployment.
 *
 * - The hosts are the environment's (`--hosts` selects, as for `batou deploy`; ignored hosts are skipped), reached
 *   as a deployment reaches them (ssh, vagrant or local, the agent started the same way, as `service_user`).
 * - The command is a `/bin/sh -c` command line (several words are joined with spaces, as `ssh host CMD` does). It
 *   runs in the project's directory on the target (`target_directory`, or the project's place below it, see
 *   sync_source.ts; the project itself with `connect_method = local`), with an empty stdin. Nothing is synced or
 *   locked: a deployment may be running meanwhile.
 * - Hosts run in parallel (at most `-j`/`jobs` at once, default all); every output line is shown as it comes, as
 *   `host: line`, with control characters made visible (a host is untrusted, core/formats/terminal_text.ts).
 * - At the end, one line per host: `host: exit N` (or `host: signal SIGTERM`, `host: failed (why)`); batou exits 0
 *   when every command exited 0, else 1.
 *
 * @module
 */
import { pool } from "../../core/runtime/pool.ts";
import { compareStrings } from "../../core/runtime/compare.ts";
import { Environment } from "../../core/model/environment.ts";
import {
  ComponentLoadingError,
  ConfigurationError,
  DuplicateComponent,
  errorFromJSON,
  ReportingError,
  reportWithPlace,
} from "../../core/model/errors.ts";
import { output, TerminalBackend } from "../../core/model/output.ts";
import type { Host } from "../../core/model/host.ts";
import { selectHosts } from "../../core/model/host_selection.ts";
import { neutralizeControls } from "../../core/formats/terminal_text.ts";
import { type AgentConnection, startLocalAgent } from "../transport/connect.ts";
import { connectRemote } from "../transport/remote_target.ts";
import type { CommandOutputParams, RunCommandResult } from "../contract/methods.ts";
import { RpcError } from "../contract/protocol.ts";
import { projectTargetDirectory, resolveSyncSource } from "./sync_source.ts";

/** Options of {@linkcode runOnHosts}, from the command line. */
export interface RunOptions {
  environment: string;
  baseDir: string;
  /** The shell command line. */
  command: string;
  /** `--hosts` patterns (all hosts when empty). */
  hosts: string[];
  jobs: number | null;
  timeout: number | null;
  debug: boolean;
  /** The batou modules (the environment's component files are loaded, as a deployment loads them). */
  modules: Record<string, unknown>;
  /** Connects a remote host (default: remote/transport/remote_target.ts `connectRemote`). */
  connectRemote?: (env: Environment, host: Host) => Promise<AgentConnection>;
}

/** How the command ended on one host. */
export type HostOutcome =
  | { kind: "exit"; code: number }
  | { kind: "signal"; signal: string }
  | { kind: "failed"; reason: string };

/** The summary line of one host: `host: exit 0`, `host: signal SIGKILL`, `host: failed (reason)`. */
export function outcomeLine(host: string, outcome: HostOutcome): string {
  if (outcome.kind === "exit") return `${host}: exit ${outcome.code}`;
  if (outcome.kind === "signal") return `${host}: signal ${outcome.signal}`;
  return `${host}: failed (${outcome.reason})`;
}

/** Whether an outcome counts as success. */
function succeeded(outcome: HostOutcome): boolean {
  return outcome.kind === "exit" && outcome.code === 0;
}

/** One line of a host's output, as shown: `host: text`, masked and with control characters visible. */
export function commandOutputLine(host: string, text: string): string {
  return `${host}: ${neutralizeControls(output.mask(text))}`;
}

/** The first line of an error's message (an RPC error's report, a connection failure). */
function reason(e: unknown): string {
  if (e instanceof RpcError && e.errors.length) {
    return neutralizeControls(e.errors.map((j) => errorFromJSON(j).message.split("\n")[0]).join("; "));
  }
  const text = e instanceof Error ? e.message : String(e);
  return neutralizeControls(text.split("\n")[0]);
}

/** Loads the environment; returns it, or prints the errors that stop the run and returns null. */
function loadEnvironment(opts: RunOptions): Environment | null {
  const env = new Environment(opts.environment, {
    baseDir: opts.baseDir,
    timeout: opts.timeout,
    jobs: opts.jobs,
  });
  try {
    env.load(opts.modules);
  } catch (e) {
    if (!(e instanceof ReportingError)) throw e;
    reportWithPlace(e, output);
    return null;
  }
  // The command does not need the components: a component file that does not load does not stop it.
  const errors = env.exceptions.filter((e) => !(e instanceof ComponentLoadingError || e instanceof DuplicateComponent));
  for (const e of errors) reportWithPlace(e, output);
  return errors.length ? null : env;
}

/** The selected, not ignored hosts, sorted by name; throws {@linkcode ConfigurationError} for a pattern without match. */
export function runHosts(env: Environment, patterns: string[]): { run: Host[]; ignored: Host[] } {
  let hosts = [...env.hosts.values()];
  if (patterns.length) {
    const { selected, unmatched } = selectHosts(hosts, patterns);
    if (unmatched.length) {
      const known = [...env.hosts.keys()].sort(compareStrings).join(", ");
      throw new ConfigurationError(
        `--hosts: no host matches ${unmatched.map((p) => `\`${p}\``).join(", ")} in environment \`${env.name}\` ` +
          `(hosts: ${known})`,
      );
    }
    hosts = hosts.filter((h) => selected.has(h.name));
  }
  hosts.sort((a, b) => compareStrings(a.name, b.name));
  return { run: hosts.filter((h) => !h.ignore), ignored: hosts.filter((h) => h.ignore) };
}

/** Runs the command on every selected host and prints the summary; returns batou's exit code. */
export async function runOnHosts(opts: RunOptions): Promise<number> {
  output.enableDebug = opts.debug;
  const env = loadEnvironment(opts);
  if (!env) return 1;
  let hosts: { run: Host[]; ignored: Host[] };
  try {
    hosts = runHosts(env, opts.hosts);
  } catch (e) {
    if (!(e instanceof ReportingError)) throw e;
    reportWithPlace(e, output);
    return 1;
  }
  for (const h of hosts.ignored) output.line(`${h.name}: skipped (ignored in environment \`${env.name}\`)`);
  if (!hosts.run.length) {
    output.error(`No host to run on in environment \`${env.name}\``);
    return 1;
  }
  // The project's directory on the targets (as a deployment syncs it); warnings about sync settings are not ours.
  let directory = env.targetDirectory;
  if (env.connectMethod === "local") directory = env.baseDir;
  else {
    const { source } = await resolveSyncSource(env, () => {});
    if (source) directory = projectTargetDirectory(env.targetDirectory, source);
  }
  if (env.connectMethod !== "local" && output.backend instanceof TerminalBackend) output.backend.decouple();
  const connect = opts.connectRemote ?? connectRemote;
  const outcomes = new Map<string, HostOutcome>();
  const jobs = env.jobs ?? hosts.run.length;
  await pool(hosts.run, jobs, async (host) => {
    let conn: AgentConnection | null = null;
    try {
      conn = env.connectMethod === "local" ? await startLocalAgent(host, env.baseDir, true) : await connect(env, host);
      const show = (method: string, params: Record<string, unknown>) => {
        if (method !== "commandOutput") return;
        const p = params as unknown as CommandOutputParams;
        output.line(commandOutputLine(host.name, String(p.text ?? "")));
      };
      conn.peer.notificationListeners.add(show);
      await conn.peer.call("ensureBase", { targetDirectory: directory });
      const result = await conn.peer.call<RunCommandResult>("runCommand", { command: opts.command });
      outcomes.set(
        host.name,
        typeof result?.signal === "string"
          ? { kind: "signal", signal: result.signal }
          : typeof result?.code === "number"
          ? { kind: "exit", code: result.code }
          : { kind: "failed", reason: "the agent's answer has no exit status" },
      );
    } catch (e) {
      outcomes.set(host.name, { kind: "failed", reason: reason(e) });
      if (opts.debug && e instanceof Error && e.stack) output.debug(e.stack);
    } finally {
      await conn?.close().catch(() => {});
    }
  });
  output.section("Summary");
  for (const host of hosts.run) {
    const outcome = outcomes.get(host.name)!;
    output.line(outcomeLine(host.name, outcome), succeeded(outcome) ? {} : { red: true });
  }
  return hosts.run.every((h) => succeeded(outcomes.get(h.name)!)) ? 0 : 1;
}
