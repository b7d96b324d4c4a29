/**
 * Runs `batou deploy` of a project whose one host's agent is an agent bundle started here as a child process (in
 * place of the ssh start): `deno run -A tests/support/bundle_deploy.ts <bundle> <project> <environment> <scratch>
 * [<v8 log>]`. The agent runs as the target runs it (`--no-config --no-lock`, the agent's V8 flags), with its caches
 * in `<scratch>/cache`; with a log path it also runs with V8's `--log-function-events`, whose `script-details`
 * lines name every script the agent evaluated (Deno's Node compatibility layer is `ext:deno_node/...`).
 *
 * The last line on stdout is JSON: `{ code, stats, output }` (the deploy's exit code, the agent's `stats` answer,
 * the deployment's output lines).
 *
 * @module
 */
import { deploy } from "../../remote/controller/deploy.ts";
import * as batou from "../../mod.ts";
import { VERSION } from "../../core/runtime/version.ts";
import { output, RecordingBackend } from "../../core/model/output.ts";
import { RpcPeer } from "../../remote/contract/protocol.ts";
import { AGENT_V8_FLAGS, type AgentConnection, collectStderr, handshake } from "../../remote/transport/connect.ts";
import { syncProject } from "../../remote/transport/sync.ts";
import type { Host } from "../../core/model/host.ts";

const [bundle, project, environment, scratch, v8Log] = Deno.args;
const recording = new RecordingBackend();
output.backend = recording;
const stats: unknown[] = [];

async function connectBundleAgent(_env: unknown, host: Host): Promise<AgentConnection> {
  const log = v8Log ? `,--log-function-events,--logfile=${v8Log},--no-logfile-per-isolate` : "";
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", `--v8-flags=${AGENT_V8_FLAGS}${log}`, "-A", "--no-config", "--no-lock", "--quiet", "--no-prompt"]
      .concat([bundle, "agent"]),
    cwd: scratch,
    env: { BATOU_CACHE_DIR: `${scratch}/cache`, DENO_DIR: `${scratch}/deno` },
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stderr = collectStderr(child.stderr);
  const peer = new RpcPeer(child.stdout, child.stdin, {}, (method, params) => {
    if (method === "output") recording.line(String(params.text ?? ""));
  });
  const hello = await handshake(peer, host, stderr);
  return {
    host,
    peer,
    hello,
    via: "bundle",
    stderr,
    async close() {
      stats.push(await peer.call("stats"));
      await peer.close();
      await child.status;
    },
  };
}

const code = await deploy({
  environment,
  baseDir: project,
  modules: { batou },
  version: VERSION,
  connectRemote: connectBundleAgent,
  syncProject: async (conn) => void await syncProject(conn.peer, project),
});
console.log(JSON.stringify({ code, stats, output: recording.lines }));
