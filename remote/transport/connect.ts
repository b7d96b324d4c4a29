/**
 * Starting agents: how the controller gets an {@linkcode AgentConnection} to a host.
 * `local` runs `batou agent` as a child process; ssh hosts go through `ssh.ts`.
 * Both speak the same JSON-RPC protocol.
 *
 * @module
 */
import { neutralizeControls } from "../../core/formats/terminal_text.ts";
import { spawnInOwnSession, trackChild } from "./children.ts";
import { PROTOCOL_VERSION, RpcPeer } from "../contract/protocol.ts";
import { type Format, output } from "../../core/model/output.ts";
import type { Host } from "../../core/model/host.ts";
import { fromFileUrl } from "../contract/paths.ts";
import { isCompiled } from "../../core/runtime/program.ts";
import { callAgent, enforceAgentContract, type HelloInfo } from "../contract/methods.ts";

/** A running agent and the connection to it. */
export interface AgentConnection {
  host: Host;
  peer: RpcPeer;
  hello: HelloInfo;
  /** How it was reached (`local`, `ssh`, ...). */
  via: string;
  /** Closes the connection and waits for the agent to exit. */
  close(): Promise<void>;
  /**
   * Ends an agent that stopped responding: kills its process (on the target too, where it could otherwise spin on
   * in an endless loop) and the connection. `close` then returns at once.
   */
  abort?(): Promise<void>;
  /** Stderr of the agent process seen so far (for error messages). */
  stderr(): string;
}

/** The command line that starts this very program in agent mode on this machine. */
export function localAgentCommand(): string[] {
  if (isCompiled()) return [Deno.execPath(), "agent"];
  const main = Deno.mainModule.startsWith("file:") ? fromFileUrl(Deno.mainModule) : Deno.mainModule;
  // BATOU_AGENT_CPU_PROF=<dir>: a local agent writes a V8 CPU profile there (deno's --cpu-prof), for profiling.
  const prof = Deno.env.get("BATOU_AGENT_CPU_PROF");
  const profile = prof ? ["--cpu-prof", `--cpu-prof-dir=${prof}`] : [];
  return [
    Deno.execPath(),
    "run",
    `--v8-flags=${AGENT_V8_FLAGS}`,
    ...profile,
    "-A",
    "--quiet",
    "--no-prompt",
    main,
    "agent",
  ];
}

/**
 * V8 flags for the agent (given to `deno run` in source mode; a compiled batou has them built in). An agent lives
 * for about a second and runs mostly cold code, where V8's optimizing compilers cost more than they save: tier-up
 * to Maglev/TurboFan (and on-stack replacement) only after ten times V8's default invocation counts, so short runs
 * stay in the interpreter and baseline code while the hot loops of a long run are still optimized (rendering a
 * 100,000-line template is as fast as with the defaults; `--no-opt --no-maglev` saved a little more but made it
 * 1.5x slower). `--single-threaded-gc` and a larger young generation were tried too: no gain, 10-20 MB more memory.
 *
 * W1 no-op H=4 (5 runs each, same machine): agent CPU ~150 -> ~132 ms per host; first-deploy agent peak RSS
 * unchanged (121 MB).
 */
export const AGENT_V8_FLAGS: string = [
  "--invocation-count-for-maglev=4000",
  "--invocation-count-for-turbofan=30000",
  "--invocation-count-for-maglev-osr=1000",
  "--invocation-count-for-osr=5000",
].join(",");

/**
 * Prefixes `line` with `<host>: ` unless it already names the host at its start (after an icon or indentation),
 * so that the output of several hosts stays attributable line by line.
 */
export function prefixHostLine(hostName: string, line: string): string {
  const start = line.replace(/^[^\p{L}\p{N}]*/u, "");
  if (start.startsWith(`${hostName}:`) || start.startsWith(`${hostName} `)) return line;
  return line ? `${hostName}: ${line}` : `${hostName}:`;
}

/**
 * Replays an agent's `output` notification into the local output. Each notification is one complete line and is
 * written with one call, so lines of different hosts never mix. With `prefixHost` (more than one host connected)
 * lines that do not start with the host name get `<host>: ` in front.
 */
export function replayOutput(host: Host, params: Record<string, unknown>, prefixHost = false): void {
  const fmt = hostFormat(params.fmt);
  // A host is untrusted: its text is masked, its control characters made visible, and a section banner it asks
  // for is a line of its own (agents print none; a host must not draw a "DEPLOYMENT FINISHED" of its own).
  const raw = params.cmd === "sep" ? `[${String(params.title ?? "")}]` : String(params.text ?? "");
  const text = neutralizeControls(output.mask(raw));
  if (params.cmd === "sep") {
    output.backend.line(prefixHostLine(host.name, text), fmt);
    return;
  }
  for (const line of text.split("\n")) output.backend.line(prefixHost ? prefixHostLine(host.name, line) : line, fmt);
}

const FORMAT_KEYS = ["bold", "red", "green", "yellow", "cyan", "purple"] as const;

/** The text attributes a host asked for: only the known ones, only `true`. */
function hostFormat(value: unknown): Format {
  const fmt: Format = {};
  if (value && typeof value === "object") {
    for (const key of FORMAT_KEYS) if ((value as Record<string, unknown>)[key] === true) fmt[key] = true;
  }
  return fmt;
}

/** Collects a child's stderr as text, keeping the last 64 KiB; `ended` resolves when the stream has ended. */
export function collectStderr(stream: ReadableStream<Uint8Array>): (() => string) & { ended: Promise<void> } {
  let text = "";
  const ended = (async () => {
    const decoder = new TextDecoder();
    try {
      for await (const chunk of stream) {
        const part = neutralizeControls(decoder.decode(chunk, { stream: true }));
        text = (text + part).slice(-65536);
        if (output.enableDebug) output.debug(part.trimEnd());
      }
    } catch { /* closed */ }
  })();
  return Object.assign(() => text, { ended });
}

/** Does the protocol handshake; throws a clear error on a version mismatch or a dead agent. */
export async function handshake(peer: RpcPeer, host: Host, stderr: () => string): Promise<HelloInfo> {
  let hello: HelloInfo;
  try {
    hello = await callAgent(peer, "hello", { protocol: PROTOCOL_VERSION });
  } catch (e) {
    const detail = stderr().trim();
    throw new Error(
      `Could not start batou on host \`${host.fqdn}\`: ${(e as Error).message}${detail ? `\n${detail}` : ""}`,
    );
  }
  if (hello.protocol !== PROTOCOL_VERSION) {
    throw new Error(
      `The agent on ${host.fqdn} speaks protocol ${hello.protocol}, this batou speaks ${PROTOCOL_VERSION} ` +
        `(agent version ${hello.version})`,
    );
  }
  return hello;
}

/** Starts `batou agent` as a local child process in `cwd`; `prefixOutput` as in {@linkcode replayOutput}. */
export async function startLocalAgent(host: Host, cwd: string, prefixOutput = false): Promise<AgentConnection> {
  const [cmd, ...args] = localAgentCommand();
  const child = spawnInOwnSession(cmd, {
    args,
    cwd,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
    env: { BATOU_AGENT: "1" },
  });
  trackChild(child);
  const stderr = collectStderr(child.stderr);
  const peer = new RpcPeer(child.stdout, child.stdin, {}, (method, params) => {
    if (method === "output") replayOutput(host, params, prefixOutput);
  });
  enforceAgentContract(peer, host.name);
  const status = child.status;
  const hello = await handshake(peer, host, stderr);
  return {
    host,
    peer,
    hello,
    via: "local",
    stderr,
    abort() {
      try {
        child.kill("SIGKILL");
      } catch { /* gone */ }
      return Promise.resolve();
    },
    async close() {
      await peer.close();
      const timer = setTimeout(() => {
        try {
          child.kill("SIGTERM");
        } catch { /* gone */ }
      }, 5000);
      await status;
      clearTimeout(timer);
    },
  };
}
