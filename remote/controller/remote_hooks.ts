/**
 * The remote half of `batou deploy`, as the hooks {@linkcode DeployOptions.connectRemote} and
 * {@linkcode DeployOptions.syncProject}: reach a host over OpenSSH (or vagrant) and start the agent there
 * (`bootstrap.ts`), then sync the project into the agent's `target_directory` (`sync.ts`). The project manifest
 * is built once per run and shared by all hosts.
 *
 * With `--debug`, or `BATOU_STATS=1` in the environment, each remote host reports a sync line
 * (`📊 host: sync: files=… sent=… bytes=… deleted=… unchanged=…`) and, when it disconnects, its traffic
 * (`📊 host: stats: sent=… agent-upload=… rpc-sent=… received=… calls=… agent-rss-peak-kb=… agent-cpu-ms=…`, payload bytes written
 * to ssh, and the agent's peak resident memory, VmHWM, where the target has /proc).
 *
 * @module
 */
import type { Environment } from "../../core/model/environment.ts";
import { output } from "../../core/model/output.ts";
import type { DeployOptions } from "./deploy.ts";
import type { AgentConnection } from "../transport/connect.ts";
import type { Host } from "../../core/model/host.ts";
import { connectRemote, connectTarget, remoteAgentTarget } from "../transport/remote_target.ts";
import { takeEarlyStart } from "./early_connect.ts";
import { buildManifest, type ManifestEntry, syncProject } from "../transport/sync.ts";
import { type SyncSource, syncSourceExclude } from "./sync_source.ts";
import { LibrarySync } from "./sync_libraries.ts";

/** The `connectRemote` and `syncProject` hooks for {@linkcode DeployOptions}. */
export function remoteDeployHooks(): Required<Pick<DeployOptions, "connectRemote" | "syncProject">> {
  const manifests = new Map<string, Promise<ManifestEntry[]>>();
  const libraries = new LibrarySync();
  return {
    connectRemote: connectTakingEarlyStart,
    async syncProject(conn: AgentConnection, env: Environment, source: SyncSource): Promise<void> {
      let manifest = manifests.get(source.root);
      const exclude = syncSourceExclude(source);
      if (!manifest) {
        manifest = buildManifest(source.root, { exclude });
        manifests.set(source.root, manifest);
      }
      const stats = await syncProject(conn.peer, source.root, { manifest: await manifest });
      const line = `${conn.host.name}: sync: files=${stats.files} sent=${stats.sent} bytes=${stats.bytesSent} ` +
        `deleted=${stats.deleted} unchanged=${stats.unchanged}`;
      if (Deno.env.get("BATOU_STATS")) output.line(line, { icon: "📊" });
      else output.debug(line, { icon: "📊" });
      // Shared component libraries from outside the project (deno.json "imports"): to .batou-libs/ on the target.
      for (const { name, stats: s } of await libraries.sync(conn, env, source)) {
        const line = `${conn.host.name}: sync library ${name}: files=${s.files} sent=${s.sent} ` +
          `bytes=${s.bytesSent} deleted=${s.deleted} unchanged=${s.unchanged}`;
        if (Deno.env.get("BATOU_STATS")) output.line(line, { icon: "📊" });
        else output.debug(line, { icon: "📊" });
      }
    },
  };
}

/**
 * Connects `host` with what `batou deploy` started for it while loading (remote/controller/early_connect.ts), when that was
 * the same target: its agent, or its start, which goes on (uploading the agent the target lacks). Else as
 * {@linkcode connectRemote}.
 */
async function connectTakingEarlyStart(env: Environment, host: Host): Promise<AgentConnection> {
  if (env.connectMethod !== "ssh") return await connectRemote(env, host);
  const target = remoteAgentTarget(env, host);
  const early = takeEarlyStart(target);
  if (!early) return await connectTarget(target);
  const { start, agent } = await early;
  if (!agent) return (await start.connect())!;
  agent.host = host; // the environment's host object from now on (the early one has the same name)
  return agent;
}
