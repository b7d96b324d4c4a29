/**
 * Start-up cost of this batou, reported separately from the W1 runs: `batou --version` (controller start with its
 * whole module graph), the agent's start to its first reply (locally, from the cached bundle, as the target starts
 * it), the same over ssh through the bootstrap (new connection, cache check, start), and W1's configure on one
 * host in a freshly started process.
 *
 * @module
 */
import { join } from "node:path";
import { agentPayload } from "../remote/transport/payload.ts";
import { startAgent } from "../remote/transport/bootstrap.ts";
import { SshConnection } from "../remote/transport/ssh.ts";
import { Host } from "../core/model/host.ts";
import { output } from "../core/model/output.ts";
import { PROTOCOL_VERSION } from "../remote/contract/protocol.ts";
import type { StartupFigure } from "./report.ts";
import { REPO } from "./tools.ts";

async function timeCommand(args: string[], opts: { cwd?: string } = {}): Promise<{ ms: number; stdout: string }> {
  const started = performance.now();
  const out = await new Deno.Command(Deno.execPath(), {
    args,
    cwd: opts.cwd,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  })
    .output();
  const ms = performance.now() - started;
  if (!out.success) throw new Error(`${args.join(" ")} failed: ${new TextDecoder().decode(out.stderr)}`);
  return { ms, stdout: new TextDecoder().decode(out.stdout) };
}

/** Starts the agent from the cached bundle as the target does and times the first reply to `hello`. */
async function localAgentHello(): Promise<number> {
  const payload = await agentPayload();
  const bundle = payload.artifacts.find((a) => a.name.endsWith(".js"))!.path;
  const started = performance.now();
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--no-config", "--no-lock", "--quiet", "--no-prompt", bundle, "agent"],
    stdin: "piped",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(
    new TextEncoder().encode(
      JSON.stringify({ jsonrpc: "2.0", id: 1, method: "hello", params: { protocol: PROTOCOL_VERSION } }) + "\n",
    ),
  );
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) break;
    text += value;
  }
  const ms = performance.now() - started;
  if (!text.includes('"id":1')) throw new Error(`agent answered ${text}`);
  await writer.close();
  reader.releaseLock();
  await child.stdout.cancel().catch(() => {});
  await child.status;
  return ms;
}

/** Connects to `host` and starts the (cached) agent there, as a deployment does; times until its hello reply. */
async function sshAgentHello(host: string, sshConfig: string): Promise<number> {
  const payload = await agentPayload();
  const started = performance.now();
  const ssh = SshConnection.create({ destination: host, label: host, configFile: sshConfig });
  const conn = await startAgent(ssh, { host: new Host(host, host), payload, onClose: () => ssh.close() });
  const ms = performance.now() - started;
  if (conn.uploadedBytes) throw new Error("the agent was not cached on the target");
  await conn.close();
  return ms;
}

/** Measures the start-up figures, `reps` times each; `project` is a W1 batou project whose hosts are deployed. */
export async function measureStartup(
  reps: number,
  opts: { project: string; host: string; sshConfig: string },
): Promise<StartupFigure[]> {
  const quiet = output.backend;
  output.backend = { line: () => {}, sep: () => {} };
  try {
    const version: number[] = [], local: number[] = [], ssh: number[] = [], configure: number[] = [];
    for (let i = 0; i < reps; i++) {
      version.push((await timeCommand(["run", "-A", "--quiet", join(REPO, "main.ts"), "--version"])).ms);
      local.push(await localAgentHello());
      ssh.push(await sshAgentHello(opts.host, opts.sshConfig));
      const probe = await timeCommand([
        "run",
        "-A",
        "--quiet",
        join(REPO, "bench/configure_probe.ts"),
        opts.project,
        opts.host,
      ]);
      configure.push(JSON.parse(probe.stdout).configureMs);
    }
    return [
      { id: "version", label: "`batou --version` (deno run main.ts)", ms: version, note: "whole process" },
      {
        id: "agent-local",
        label: "agent start to first reply (local process)",
        ms: local,
        note: "deno run <cached bundle> agent, until the `hello` answer",
      },
      {
        id: "agent-ssh",
        label: "agent start to first reply over ssh (agent cached)",
        ms: ssh,
        note: "new ssh connection, bootstrap cache check (uname, verified stamps of deno and bundle), start, `hello`",
      },
      {
        id: "configure",
        label: "configure of W1 on one host",
        ms: configure,
        note: "load + configure in a fresh process (Agent.configure), excluding process start",
      },
    ];
  } finally {
    output.backend = quiet;
  }
}
