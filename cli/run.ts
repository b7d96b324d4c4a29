/**
 * The command line of `batou run ENV [--hosts H[,H...]] [-j N] [-t S] [-d] -- CMD...`: parsed here, run by
 * remote/controller/run_command.ts (handed in by main.ts as `execute`).
 *
 * Everything after `--` is the command (its words joined with spaces into one `/bin/sh -c` command line, as
 * `ssh host CMD...` does); without `--`, the words after ENV are, as long as none looks like an option.
 *
 * @example
 * ```ts
 * parseRunArguments(["prod", "--hosts", "web*", "--", "systemctl", "is-active", "nginx"]);
 * // { environment: "prod", command: "systemctl is-active nginx", hosts: ["web*"], jobs: null, ... }
 * ```
 * @module
 */
import { hostPatterns } from "../core/model/host_selection.ts";

/** The usage text of `batou run`. */
export const RUN_USAGE = `usage: batou run ENV [--hosts H[,H...]] [-j|--jobs N] [-t|--timeout S] [-d|--debug] -- CMD...

  Runs CMD (a /bin/sh command line) on the environment's hosts, as a deployment's agent (and service_user) would,
  in the project's directory on each target (target_directory), and prints each output line as \`host: line\`.
  Ends with \`host: exit N\` per host; exits 0 when every command exited 0, else 1.

  ENV                     the environment
  --hosts H[,H...]        only these hosts (names or globs such as 'web*'; repeatable)
  -j, --jobs N            run on at most N hosts in parallel (default: all at once, or jobs = in [environment])
  -t, --timeout S         timeout (seconds) for connections
  -d, --debug             debug output
`;

/** What `batou run` was asked to do. */
export interface RunArguments {
  environment: string;
  command: string;
  /** The `--hosts` patterns (empty: all hosts). */
  hosts: string[];
  jobs: number | null;
  timeout: number | null;
  debug: boolean;
}

/** A wrong `batou run` command line (exit code 2). */
export class RunUsageError extends Error {}

/** Reads the arguments after `run`; null for `--help`. Throws {@linkcode RunUsageError}. */
export function parseRunArguments(args: string[]): RunArguments | null {
  const dash = args.indexOf("--");
  const head = dash >= 0 ? args.slice(0, dash) : args;
  const words: string[] = dash >= 0 ? args.slice(dash + 1) : [];
  const hosts: string[] = [];
  let environment: string | null = null;
  let jobs: number | null = null;
  let timeout: number | null = null;
  let debug = false;
  const valueOf = (i: number, name: string): string => {
    const arg = head[i];
    const eq = arg.indexOf("=");
    if (arg.startsWith("--") && eq >= 0) return arg.slice(eq + 1);
    if (i + 1 >= head.length) throw new RunUsageError(`${name} takes a value`);
    return head[i + 1];
  };
  const whole = (value: string, name: string): number => {
    const n = Number(value);
    if (!/^\d+$/.test(value) || !Number.isInteger(n) || n < 1) {
      throw new RunUsageError(`${name} takes a whole number >= 1, got \`${value}\``);
    }
    return n;
  };
  for (let i = 0; i < head.length; i++) {
    const arg = head[i];
    const name = arg.startsWith("--") ? arg.slice(0, arg.includes("=") ? arg.indexOf("=") : undefined) : arg;
    const consumes = !(arg.startsWith("--") && arg.includes("="));
    if (name === "-h" || name === "--help") return null;
    if (name === "-d" || name === "--debug") debug = true;
    else if (name === "--hosts") {
      hosts.push(valueOf(i, "--hosts"));
      if (consumes) i++;
    } else if (name === "-j" || name === "--jobs") {
      jobs = whole(valueOf(i, "--jobs"), "--jobs");
      if (consumes) i++;
    } else if (name === "-t" || name === "--timeout") {
      timeout = whole(valueOf(i, "--timeout"), "--timeout");
      if (consumes) i++;
    } else if (arg.startsWith("-") && arg !== "-") {
      throw new RunUsageError(
        environment === null ? `unknown option \`${arg}\`` : `unknown option \`${arg}\` (put the command after \`--\`)`,
      );
    } else if (environment === null) environment = arg;
    else if (dash >= 0) throw new RunUsageError(`unexpected \`${arg}\` before \`--\``);
    else words.push(arg);
  }
  if (environment === null) throw new RunUsageError("run takes an environment name");
  const command = words.join(" ");
  if (command.trim() === "") throw new RunUsageError("run takes a command (after `--`)");
  const patterns = hostPatterns(hosts);
  if (hosts.length && !patterns.length) throw new RunUsageError("--hosts takes host names or patterns");
  return { environment: environment.replace(/\.cfg$/, ""), command, hosts: patterns, jobs, timeout, debug };
}

/** `batou run ...`: parses `args` and hands them to `execute`; returns the exit code (2 for a usage error). */
export async function runCommand(
  args: string[],
  debug: boolean,
  execute: (run: RunArguments) => Promise<number>,
): Promise<number> {
  let parsed: RunArguments | null;
  try {
    parsed = parseRunArguments(args);
  } catch (e) {
    if (!(e instanceof RunUsageError)) throw e;
    await Deno.stderr.write(new TextEncoder().encode(`batou: error: ${e.message}\n\n${RUN_USAGE}`));
    return 2;
  }
  if (parsed === null) {
    console.log(RUN_USAGE);
    return 0;
  }
  return await execute({ ...parsed, debug: parsed.debug || debug });
}
