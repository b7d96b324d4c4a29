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
import { readLines } from "../../core/runtime/lines.ts";
import type { RpcHandler } from "../contract/protocol.ts";
import type { CommandOutputParams, RunCommandParams, RunCommandResult } from "../contract/methods.ts";

/** Longest line sent as one notification; longer lines are split (a command without newlines still streams). */
const MAX_LINE_CHARS = 16 * 1024;

const running = new Set<Deno.ChildProcess>();

/** Sends each line of `stream` to `send` (a `\r` before its newline dropped; long lines in pieces). */
function forwardLines(stream: ReadableStream<Uint8Array>, send: (text: string) => void): Promise<void> {
  return readLines(stream, (line, ended) => send(ended ? line.replace(/\r$/, "") : line), MAX_LINE_CHARS);
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
