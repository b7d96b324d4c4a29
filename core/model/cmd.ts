/**
 * Running shell commands the way batou's `cmd()` does: through `/bin/sh`, with
 * stdin closed (or fed with `input`) so that commands expecting input do not hang.
 *
 * @module
 */
import { CmdExecutionError } from "./errors.ts";
import { readLines } from "../runtime/lines.ts";

/** The result of a command. */
export interface CmdResult {
  stdout: string;
  stderr: string;
  code: number;
}

/** Options of {@linkcode runCmd}. */
export interface RunCmdOptions {
  cwd?: string;
  /** Added to (not replacing) the process environment. */
  env?: Record<string, string>;
  /** Written to the command's stdin, which is closed afterwards. */
  input?: string | Uint8Array;
  /** Do not throw on a non-zero exit code. */
  ignoreReturnCode?: boolean;
  /** Exit codes that count as success (default `[0]`). */
  acceptableReturnCodes?: number[];
  /**
   * Called with each line of output as it arrives (without its newline), while the command runs: batou's
   * `cmd(communicate=False)` for long commands whose progress should be seen. The result still has all output.
   */
  onLine?: (line: string, stream: "stdout" | "stderr") => void;
}

/** Reads `stream` to its end, passing each line (and a last unterminated one) to `onLine`; returns all of it. */
async function readAll(stream: ReadableStream<Uint8Array>, onLine: (line: string) => void): Promise<string> {
  let all = "";
  await readLines(stream, (line, ended) => {
    all += ended ? line + "\n" : line;
    onLine(line);
  });
  return all;
}

const decoder = new TextDecoder();

/** Quotes one argument for `/bin/sh` when it needs quoting. */
export function shellQuote(arg: string): string {
  if (arg !== "" && /^[A-Za-z0-9_@%+=:,./-]+$/.test(arg)) return arg;
  return "'" + arg.replaceAll("'", "'\\''") + "'";
}

/** Joins an argument list into one shell command line, quoting as needed. */
export function joinCommand(args: string[]): string {
  return args.map(shellQuote).join(" ");
}

/** Runs `command` through `/bin/sh -c`. Throws {@linkcode CmdExecutionError} on failure. */
export async function runCmd(command: string | string[], opts: RunCmdOptions = {}): Promise<CmdResult> {
  const line = Array.isArray(command) ? joinCommand(command) : command;
  const child = new Deno.Command("/bin/sh", {
    args: ["-c", line],
    cwd: opts.cwd,
    env: opts.env,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  try {
    if (opts.input !== undefined) {
      await writer.write(typeof opts.input === "string" ? new TextEncoder().encode(opts.input) : opts.input);
    }
    await writer.close();
  } catch {
    // The command may exit without reading its input.
  }
  let result: CmdResult;
  if (opts.onLine) {
    const onLine = opts.onLine;
    const [stdout, stderr, status] = await Promise.all([
      readAll(child.stdout, (l) => onLine(l, "stdout")),
      readAll(child.stderr, (l) => onLine(l, "stderr")),
      child.status,
    ]);
    result = { stdout, stderr, code: status.code };
  } else {
    const out = await child.output();
    result = { stdout: decoder.decode(out.stdout), stderr: decoder.decode(out.stderr), code: out.code };
  }
  const ok = (opts.acceptableReturnCodes ?? [0]).includes(result.code);
  if (!ok && !opts.ignoreReturnCode) throw CmdExecutionError.of(line, result.code, result.stdout, result.stderr);
  return result;
}
