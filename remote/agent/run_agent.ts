/**
 * The agent's `runCommand` method (`batou run ENV -- CMD`): runs one `/bin/sh -c` command line in the deployment's
 * directory (the agent's base, see `ensureBase`) as the agent's user (the service user, when there is one), and
 * streams what it writes, line by line, as `commandOutput` notifications while it runs. The answer is its exit
 * code (or the signal that ended it). The command's stdin is empty.
 *
 * When the connection ends while a command runs (the controller was stopped), {@linkcode stopCommands} ends the
 * command's process group.
 *
 * @module
 */
import type { CommandOutputParams, RpcHandler, RunCommandParams, RunCommandResult } from "../contract/protocol.ts";

/** Longest line sent as one notification; longer lines are split (a command without newlines still streams). */
const MAX_LINE_CHARS = 16 * 1024;

const running = new Set<Deno.ChildProcess>();

/** Sends each complete line of `stream` (and the rest at its end) to `send`. */
async function forwardLines(
  stream: ReadableStream<Uint8Array>,
  send: (text: string) => void,
): Promise<void> {
  const decoder = new TextDecoder();
  let pending = "";
  const flush = (final: boolean) => {
    let nl: number;
    while ((nl = pending.indexOf("\n")) >= 0) {
      send(pending.slice(0, nl).replace(/\r$/, ""));
      pending = pending.slice(nl + 1);
    }
    while (pending.length > MAX_LINE_CHARS) {
      send(pending.slice(0, MAX_LINE_CHARS));
      pending = pending.slice(MAX_LINE_CHARS);
    }
    if (final && pending !== "") {
      send(pending);
      pending = "";
    }
  };
  for await (const chunk of stream) {
    pending += decoder.decode(chunk, { stream: true });
    flush(false);
  }
  pending += decoder.decode();
  flush(true);
}

/** Runs `command` with `/bin/sh -c` in `cwd`, sending its output lines through `notify`. */
export async function runShellCommand(
  command: string,
  cwd: string,
  notify: (method: string, params: CommandOutputParams) => void,
): Promise<RunCommandResult> {
  const child = new Deno.Command("/bin/sh", {
    args: ["-c", command],
    cwd,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    detached: true,
  }).spawn();
  running.add(child);
  try {
    await Promise.all([
      forwardLines(child.stdout, (text) => notify("commandOutput", { stream: "stdout", text })),
      forwardLines(child.stderr, (text) => notify("commandOutput", { stream: "stderr", text })),
    ]);
    const status = await child.status;
    return { code: status.signal ? null : status.code, signal: status.signal };
  } finally {
    running.delete(child);
  }
}

/**
 * The `runCommand` handler: `base` gives the deployment directory (`ensureBase` first), `notify` sends a
 * notification to the controller.
 */
export function createRunHandlers(
  base: () => string,
  notify: (method: string, params: CommandOutputParams) => void,
): { runCommand: RpcHandler } {
  return {
    runCommand: (p) => {
      const { command } = p as unknown as RunCommandParams;
      if (typeof command !== "string" || command.trim() === "") {
        throw new Error("runCommand: `command` must be a non-empty string");
      }
      return runShellCommand(command, base(), notify);
    },
  };
}

/** Ends every running command's process group (SIGTERM): the controller went away. */
export function stopCommands(): void {
  for (const child of running) {
    try {
      Deno.kill(-child.pid, "SIGTERM");
    } catch { /* gone */ }
  }
}
