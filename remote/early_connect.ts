/**
 * ssh connections opened while the rest of the program is still loading.
 *
 * A deployment's first ~0.1 s go to loading the program (modules, npm packages) and the project; its ssh connections
 * then take ~0.2 s each, mostly waiting on the network and the server. `batou deploy` therefore reads the hosts
 * from `environment.cfg` first, with nothing but the config parser, and starts their ssh master connections
 * ({@linkcode SshConnection.open}, exactly as the deployment would) before it loads anything else. When the
 * deployment then connects a host, it takes the connection started for the same destination, label, ssh config and
 * timeout ({@linkcode takeEarlyConnection}), or opens a new one when there is none (another host set, a config this
 * reader does not understand). Connections nobody took are closed at the end ({@linkcode closeEarlyConnections}).
 *
 * This is only a head start: the environment is read properly (and its errors reported) by the deployment, which
 * decides which hosts it connects. A master connection runs nothing on the host (`ssh -N`). Only `connect_method =
 * ssh` (the default) is started early; a failed early connection is reported by the deployment, when it takes it,
 * as the same error it would have met itself.
 *
 * W1 no-op (measured with pre-opened masters): H=1 0.40 -> 0.32 s, H=4 0.64 -> 0.57 s.
 *
 * @module
 */
import { join } from "node:path";
import { ConfigDocument } from "../core/configparser.ts";
import { environmentConfigPath } from "../core/environment_file.ts";
import { projectSshConfig, SshConnection, type SshOptions } from "./ssh.ts";

/** The hosts an environment connects by ssh, as {@linkcode SshConnection.open} options; null when none or unsure. */
export function earlySshTargets(baseDir: string, environment: string, timeout: number | null): SshOptions[] | null {
  const path = environmentConfigPath(baseDir, environment);
  if (!path) return null;
  let config: ConfigDocument;
  try {
    config = ConfigDocument.parse(Deno.readTextFileSync(join(baseDir, path)), path);
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
  const domain = env.get("host_domain") || null;
  const hosts = new Map<string, boolean>(); // name -> ignored
  for (const e of config.entries("hosts")) {
    const ignored = e.key.startsWith("!");
    hosts.set(ignored ? e.key.slice(1).trim() : e.key, ignored);
  }
  for (const section of config.sections()) {
    if (!section.startsWith("host:")) continue;
    const ignore = config.entries(section).find((e) => e.key === "ignore")?.value.trim().toLowerCase();
    hosts.set(section.slice(5).trim(), ["true", "yes", "on", "1"].includes(ignore ?? ""));
  }
  const configFile = projectSshConfig(baseDir, environment);
  const targets = [...hosts].filter(([name, ignored]) => !ignored && /^[A-Za-z0-9_.:-]+$/.test(name)).map((
    [name],
  ) => ({ destination: domain ? `${name}.${domain}` : name, label: name, configFile, timeout }));
  return targets.length ? targets : null;
}

const started = new Map<string, Promise<SshConnection>>();

function key(opts: SshOptions): string {
  return JSON.stringify([
    opts.destination,
    opts.label ?? opts.destination,
    opts.configFile ?? null,
    opts.timeout ?? null,
  ]);
}

/**
 * Starts the ssh master connections of the environment's hosts (see the module documentation). `timeout` is the
 * command line's `--timeout`, if given. Never throws: whatever cannot be started early is connected later.
 */
export function startEarlyConnections(baseDir: string, environment: string, timeout: number | null): void {
  let targets: SshOptions[] | null = null;
  try {
    targets = earlySshTargets(baseDir, environment, timeout);
  } catch {
    return;
  }
  for (const opts of targets ?? []) {
    const k = key(opts);
    if (started.has(k)) continue;
    const connection = SshConnection.open(opts);
    connection.catch(() => {}); // reported when taken; ignored when not
    started.set(k, connection);
  }
}

/** The early connection for exactly these options (taken: it is not offered again), or null. */
export function takeEarlyConnection(opts: SshOptions): Promise<SshConnection> | null {
  const k = key(opts);
  const connection = started.get(k) ?? null;
  started.delete(k);
  return connection;
}

/** Closes the early connections that nobody took. */
export async function closeEarlyConnections(): Promise<void> {
  const left = [...started.values()];
  started.clear();
  await Promise.all(left.map(async (c) => await (await c.catch(() => null))?.close()));
}
