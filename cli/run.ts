/**
 * The command line of `batou run ENV [--hosts H[,H...]] [-j N] [-t S] [-d] -- CMD...`: parsed here, run by
 * remote/controller/run_command.ts (handed in by main.ts as `execute`).
 *
 * Everything after `--` is the command (its words joined with spaces into one `/bin/sh -c` command line, as
 * `ssh host CMD...` does); without `--`, the words after ENV are, as long as none looks like an option.
 *
 * @example
 * ```ts
 * await parseRunArguments(["prod", "--hosts", "web*", "--", "systemctl", "is-active", "nginx"]);
 * // { environment: "prod", command: "systemctl is-active nginx", hosts: ["web*"], jobs: null, ... }
 * ```
 * @module
 */
import { hostPatterns } from "../core/model/host_selection.ts";
import { COMMANDS } from "./commands.ts";
import { parseCommand, UsageError } from "./parse.ts";

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

/** Without `--`, the words after ENV are the command (as long as none looks like an option). */
const RUN_WITHOUT_DASHES = {
  ...COMMANDS.run,
  args: [COMMANDS.run.args[0], { ...COMMANDS.run.args[1], afterDashes: false, rest: true }],
};

/** Reads the arguments after `run` (the table in cli/commands.ts); null for `--help`. Throws a UsageError. */
export async function parseRunArguments(args: string[]): Promise<RunArguments | null> {
  const dashes = args.includes("--");
  let parsed;
  try {
    const help = args.some((a) => a === "-h" || a === "--help");
    parsed = await parseCommand(["run"], dashes || help ? COMMANDS.run : RUN_WITHOUT_DASHES, args);
  } catch (e) {
    if (dashes || !(e instanceof UsageError)) throw e;
    // An option after ENV is most likely the command's own (`batou run prod ls -la`).
    const option = e.option;
    const env = args.findIndex((a) => !a.startsWith("-"));
    if (!option || env < 0 || args.findIndex((a) => a.startsWith(option)) < env) throw e;
    throw new UsageError(`${e.message}; put the command after \`--\``, ["run"]);
  }
  if (parsed === null) return null;
  const { values, positionals, afterDashes } = parsed;
  const whole = (value: string | undefined, name: string): number | null => {
    if (value === undefined) return null;
    if (!/^\d+$/.test(value) || Number(value) < 1) {
      throw new UsageError(`option --${name} of batou run takes a whole number >= 1, got \`${value}\``, ["run"]);
    }
    return Number(value);
  };
  const command = (dashes ? afterDashes : positionals.slice(1)).join(" ");
  if (command.trim() === "") throw new UsageError("missing -- CMD... for batou run: the command line", ["run"]);
  const hosts = values.hosts ?? [];
  const patterns = hostPatterns(hosts);
  if (hosts.length && !patterns.length) {
    throw new UsageError("option --hosts of batou run takes host names or patterns", ["run"]);
  }
  return {
    environment: positionals[0].replace(/\.cfg$/, ""),
    command,
    hosts: patterns,
    jobs: whole(values.jobs, "jobs"),
    timeout: whole(values.timeout, "timeout"),
    debug: values.debug ?? false,
  };
}

/** `batou run ...`: parses `args` and hands them to `execute`; returns the exit code (usage errors are thrown). */
export async function runCommand(
  args: string[],
  debug: boolean,
  execute: (run: RunArguments) => Promise<number>,
): Promise<number> {
  const parsed = await parseRunArguments(args);
  if (parsed === null) return 0;
  return await execute({ ...parsed, debug: parsed.debug || debug });
}
