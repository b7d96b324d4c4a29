/**
 * The controller's `connectRemote` hook: which target a host is (ssh destination, ssh config, service user, sudo,
 * target directory; `vagrant up` and `vagrant ssh-config` for vagrant), and starting its agent there
 * (remote/transport/bootstrap.ts).
 *
 * @module
 */
import type { Environment } from "../../core/model/environment.ts";
import type { Host } from "../../core/model/host.ts";
import { ConfigurationError } from "../../core/model/errors.ts";
import { output } from "../../core/model/output.ts";
import type { AgentConnection } from "./connect.ts";
import { callAgent } from "../contract/methods.ts";
import { projectSshConfig, SshConnection, type SshOptions, vagrantSshConfig } from "./ssh.ts";
import { AgentStart, type RemoteAgentConnection } from "./bootstrap.ts";
import { agentPayload } from "./payload.ts";

// ---------------------------------------------------------------------------------------------------------------
// The controller's `connectRemote` hook.

let vagrantUp: Promise<void> | null = null;

async function ensureVagrantUp(env: Environment): Promise<void> {
  if (!vagrantUp) {
    vagrantUp = (async () => {
      output.line("vagrant: Ensuring machines are up ...", { icon: null });
      const result = await new Deno.Command("vagrant", { args: ["up"], cwd: env.baseDir, stdin: "null" }).output()
        .catch((e: Error) => {
          throw new ConfigurationError(`cannot run vagrant: ${e.message}`);
        });
      if (!result.success) throw new ConfigurationError("`vagrant up` failed");
    })();
  }
  await vagrantUp;
}

/** Whether to print the per-host traffic line (`--debug` or `BATOU_STATS=1`). */
function statsEnabled(): boolean {
  return output.enableDebug || !!Deno.env.get("BATOU_STATS");
}

/** How one host's agent is reached over ssh and run there. */
export interface RemoteAgentTarget {
  /** The ssh connection (destination, label = host name, ssh config, timeout). */
  ssh: SshOptions;
  host: Host;
  serviceUser: string | null;
  requireSudo: boolean | null;
  targetDirectory: string | null;
}

/** The target of `host` in `env` (ssh, or vagrant with its generated ssh config and the machine name). */
export function remoteAgentTarget(
  env: Environment,
  host: Host,
  configFile: string | null = projectSshConfig(env.baseDir, env.name),
  destination: string = host.fqdn,
): RemoteAgentTarget {
  return {
    ssh: { destination, label: host.name, configFile, timeout: env.timeoutConfigured ? env.timeout : null },
    host,
    serviceUser: host.serviceUser,
    requireSudo: host.requireSudo,
    targetDirectory: env.targetDirectory,
  };
}

/** Options of {@linkcode beginRemoteAgent}. */
export interface RemoteStartOptions {
  /** Called after the ssh connection is closed. */
  cleanup?: () => Promise<void>;
  /** Whether the traffic line (`--debug`, `BATOU_STATS=1`) is printed when the connection closes (default yes). */
  reportStats?: () => boolean;
}

/** The start of one target's agent over its own ssh connection (see {@linkcode beginRemoteAgent}). */
export interface RemoteStart {
  /** The ssh connection (agent uploads are counted in its `bytesSent`). */
  readonly ssh: SshConnection;
  /** See {@linkcode AgentStart.connect}; closing the agent connection closes `ssh`. */
  connect(uploadMissing?: boolean): Promise<RemoteAgentConnection | null>;
  /** Ends a start that has no agent, and its ssh connection. */
  close(): Promise<void>;
}

/**
 * Starts the agent of `target` over a new ssh connection: the ssh process is running when this returns (unless
 * {@linkcode MAX_PARALLEL_SETUPS} connections are being set up), while the payload is still being prepared.
 * `connect()` goes on from there. Throws {@linkcode RemoteConnectError} for an invalid destination.
 */
export function beginRemoteAgent(target: RemoteAgentTarget, opts: RemoteStartOptions = {}): RemoteStart {
  const { host } = target;
  const cleanup = opts.cleanup ?? (() => Promise.resolve());
  const stats = () => statsEnabled() && (opts.reportStats?.() ?? true);
  const ssh = SshConnection.create(target.ssh);
  let agent: RemoteAgentConnection | null = null;
  let memory = "";
  const payload = agentPayload();
  const start = AgentStart.begin(ssh, {
    host,
    payload,
    serviceUser: target.serviceUser,
    requireSudo: target.requireSudo,
    targetDirectory: target.targetDirectory,
    onClose: async () => {
      if (agent && stats()) {
        const rpc = agent.peer.stats;
        output.line(
          `${agent.host.name}: stats: sent=${agent.sentBytes()} agent-upload=${agent.uploadedBytes} ` +
            `rpc-sent=${rpc.bytesSent} received=${rpc.bytesReceived} calls=${rpc.calls}${memory}`,
          { icon: "📊" },
        );
      }
      await ssh.close();
      await cleanup();
    },
  });
  return {
    ssh,
    close: () => start.close(),
    async connect(uploadMissing = true) {
      const conn = await start.connect(uploadMissing);
      if (!conn) return null;
      agent = conn;
      // The agent's peak memory and CPU, asked for just before the connection closes (the `stats` call is counted).
      const close = conn.close;
      conn.close = async () => {
        if (stats()) {
          const s = await callAgent(conn.peer, "stats", {}).catch(() => null);
          if (s?.rssPeakKiB != null) memory = ` agent-rss-peak-kb=${s.rssPeakKiB}`;
          if (s?.cpuMs != null) memory += ` agent-cpu-ms=${s.cpuMs}`;
        }
        await close();
      };
      output.debug(
        `${host.name}: agent ${conn.hello.version} pid ${conn.hello.pid} as ${conn.hello.user} ` +
          `(${(await payload).mode} mode, uploaded ${conn.uploadedBytes} bytes)`,
      );
      return conn;
    },
  };
}

/**
 * Connects to `host` (connect_method ssh or vagrant) and starts an agent there. Throws
 * {@linkcode RemoteConnectError} naming the host when it cannot.
 */
export async function connectRemote(env: Environment, host: Host): Promise<AgentConnection> {
  if (env.connectMethod === "ssh") return await connectTarget(remoteAgentTarget(env, host));
  if (env.connectMethod !== "vagrant") {
    throw new ConfigurationError(`Unknown connect_method \`${env.connectMethod}\` (use ssh, local or vagrant)`);
  }
  await ensureVagrantUp(env);
  const scratch = await Deno.makeTempDir({ prefix: "batou-vagrant-" });
  const cleanup = () => Deno.remove(scratch, { recursive: true }).catch(() => {});
  let configFile: string;
  try {
    configFile = await vagrantSshConfig(env.baseDir, host.name, scratch);
  } catch (e) {
    await cleanup();
    throw e;
  }
  return await connectTarget(remoteAgentTarget(env, host, configFile, host.name), cleanup);
}

/** Opens the ssh connection of `target` and starts its agent; `cleanup` runs when the connection is done. */
export async function connectTarget(
  target: RemoteAgentTarget,
  cleanup: () => Promise<void> = () => Promise.resolve(),
): Promise<RemoteAgentConnection> {
  let start: RemoteStart;
  try {
    start = beginRemoteAgent(target, { cleanup });
  } catch (e) {
    await cleanup();
    throw e;
  }
  return (await start.connect())!;
}
