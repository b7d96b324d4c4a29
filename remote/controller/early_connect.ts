/**
 * ssh connections and agents started while the rest of the program is still loading.
 *
 * A deployment's first ~0.1 s go to loading the program (modules, npm packages) and the project; then each host's
 * ssh connection takes ~0.2 s (mostly waiting on the network and the server) and its agent another ~0.1 s to start.
 * `batou deploy` therefore reads the hosts from `environment.cfg` first, with nothing but the config parser, and
 * for each starts the ssh connection and the agent from the target's cache, exactly as the deployment would
 * ({@linkcode beginRemoteAgent}), before it loads anything else. When the deployment
 * then connects a host, it takes what was started for the same target (destination, label, ssh config, timeout,
 * service user, sudo, target directory; {@linkcode takeEarlyStart}), or starts anew when there is nothing (other
 * hosts, a config this reader does not understand). What nobody took is closed at the end
 * ({@linkcode closeEarlyConnections}).
 *
 * This is only a head start: the environment is read properly (and its errors reported) by the deployment, which
 * decides which hosts it connects. An early agent only answers the handshake; nothing is locked, synced or changed
 * before the deployment takes it. An early start never uploads: on a target without the current agent files the
 * start script waits on its ssh connection, and the deployment uploads once the project has loaded without errors. Only `connect_method =
 * ssh` (the default) starts early; a failure is reported by the deployment, when it takes it, as the same error it
 * would have met itself.
 *
 * W1 no-op: ssh masters only: H=1 0.41 -> 0.34 s, H=4 0.64 -> 0.60 s; with the agents too see bench/OPTIMISATIONS.md.
 *
 * @module
 */
import { parseBoolean } from "../../core/model/attribute.ts";
import type { ConfigDocument } from "../../core/formats/configparser.ts";
import { readEnvironmentConfig } from "../../core/model/environment_file.ts";
import { Host } from "../../core/model/host.ts";
import { beginRemoteAgent, type RemoteAgentTarget, type RemoteStart } from "../transport/remote_target.ts";
import type { RemoteAgentConnection } from "../transport/bootstrap.ts";
import { projectSshConfig } from "../transport/ssh.ts";
import { hostPatterns, selectHosts } from "../../core/model/host_selection.ts";

/** A boolean setting as the environment reads it; undefined when it is not one. */
function flag(value: string | undefined): boolean | undefined {
  if (value === undefined) return undefined;
  try {
    return parseBoolean(value);
  } catch {
    return undefined;
  }
}

/**
 * The hosts an environment connects by ssh and how their agents run, as the deployment will compute them; null
 * when there are none or this reader is unsure (the deployment then connects as usual).
 */
export function earlyTargets(baseDir: string, environment: string, timeout: number | null): RemoteAgentTarget[] | null {
  let config: ConfigDocument;
  try {
    const read = readEnvironmentConfig(baseDir, environment);
    if (!read) return null;
    config = read.config;
  } catch {
    return null;
  }
  const env = new Map(config.entries("environment").map((e) => [e.key, e.value.trim()]));
  if ((env.get("connect_method") ?? "ssh") !== "ssh") return null;
  if (timeout === null && env.has("timeout")) {
    const t = Number(env.get("timeout"));
    if (!Number.isInteger(t) || t <= 0) return null;
    timeout = t;
  }
  const requireSudo = env.has("require_sudo") ? flag(env.get("require_sudo")) : null;
  if (requireSudo === undefined) return null;
  const domain = env.get("host_domain") || null;
  const hosts = new Map<string, Map<string, string>>(); // name -> settings
  for (const e of config.entries("hosts")) {
    const ignored = e.key.startsWith("!");
    hosts.set(ignored ? e.key.slice(1).trim() : e.key, new Map([["ignore", String(ignored)]]));
  }
  for (const section of config.sections()) {
    if (!section.startsWith("host:")) continue;
    hosts.set(section.slice(5).trim(), new Map(config.entries(section).map((e) => [e.key, e.value])));
  }
  const configFile = projectSshConfig(baseDir, environment);
  const targets: RemoteAgentTarget[] = [];
  const active = [...hosts].filter(([, settings]) => !flag(settings.get("ignore") ?? "false"));
  for (const [name, settings] of active) {
    if (!/^[A-Za-z0-9_.:-]+$/.test(name)) return null;
    const sudo = settings.has("require_sudo") ? flag(settings.get("require_sudo")) : requireSudo;
    if (sudo === undefined) return null;
    const fqdn = domain ? `${name}.${domain}` : name;
    targets.push({
      ssh: { destination: fqdn, label: name, configFile, timeout },
      host: new Host(name, fqdn),
      serviceUser: settings.get("service_user") ?? (env.get("service_user") || null),
      requireSudo: sudo,
      targetDirectory: env.get("target_directory") || "~/deployment",
    });
  }
  return targets.length ? targets : null;
}

/** What was started early for one host: its agent's start, and the agent when the target had it cached. */
export interface EarlyStart {
  start: RemoteStart;
  agent: RemoteAgentConnection | null;
}

const started = new Map<string, { start: Promise<EarlyStart>; taken: boolean }>();

function key(t: RemoteAgentTarget): string {
  const { ssh } = t;
  return JSON.stringify([
    ssh.destination,
    ssh.label ?? ssh.destination,
    ssh.configFile ?? null,
    ssh.timeout ?? null,
    t.host.name,
    t.host.fqdn,
    t.serviceUser,
    t.requireSudo,
    t.targetDirectory,
  ]);
}

/**
 * Starts the ssh connections and agents of the environment's hosts (see the module documentation). `timeout` is
 * the command line's `--timeout`, if given; `hosts` its `--hosts` values (only the hosts they select start; all
 * when empty). Never throws: whatever cannot be started early is started later.
 */
export function startEarlyConnections(
  baseDir: string,
  environment: string,
  timeout: number | null,
  hosts: readonly string[] = [],
): void {
  let targets: RemoteAgentTarget[] | null = null;
  try {
    targets = earlyTargets(baseDir, environment, timeout);
    const patterns = hostPatterns(hosts);
    if (targets && patterns.length) {
      const { selected } = selectHosts(targets.map((t) => t.host), patterns);
      targets = targets.filter((t) => selected.has(t.host.name));
    }
  } catch {
    return;
  }
  for (const target of targets ?? []) {
    const k = key(target);
    if (started.has(k)) continue;
    const entry = { start: null as unknown as Promise<EarlyStart>, taken: false };
    let start: RemoteStart;
    try {
      start = beginRemoteAgent(target, { reportStats: () => entry.taken });
    } catch {
      continue; // the deployment meets the same error
    }
    // Not cached: the start script waits, and the deployment uploads over this connection once the project loaded.
    entry.start = start.connect(false).then((agent) => ({ start, agent }));
    entry.start.catch(() => {}); // reported when taken; ignored when not
    started.set(k, entry);
  }
}

/** What was started early for exactly this target (taken: it is not offered again), or null. */
export function takeEarlyStart(target: RemoteAgentTarget): Promise<EarlyStart> | null {
  const k = key(target);
  const entry = started.get(k);
  if (!entry) return null;
  started.delete(k);
  entry.taken = true;
  return entry.start;
}

/** Closes the early connections and agents that nobody took. */
export async function closeEarlyConnections(): Promise<void> {
  const left = [...started.values()];
  started.clear();
  await Promise.all(left.map(async (entry) => {
    const start = await entry.start.catch(() => null);
    if (start?.agent) await start.agent.close();
    else await start?.start.close();
  }));
}
