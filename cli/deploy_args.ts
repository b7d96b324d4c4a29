/**
 * `batou deploy`'s options, and a strict early reading of its command line: `batou deploy` starts its ssh
 * connections (remote/controller/early_connect.ts) before `node:util` (whose first use costs a fresh process ~7 ms) parses the
 * command line properly.
 *
 * @example
 * ```ts
 * earlyDeployArguments(["deploy", "-P", "prod"]);
 * // { environment: "prod", timeout: null, hosts: [], flags: ["predict-only"] }
 * earlyDeployArguments(["deploy", "-L", "-P", "prod"]); // null: local, nothing to connect
 * ```
 * @module
 */
import { COMMON_OPTIONS, DEPLOY_OWN_OPTIONS } from "./commands.ts";
import type { ParsedCommand } from "./parse.ts";

/** The options of `batou deploy` from the command table (cli/commands.ts), as `parseArgs` (node:util) takes them. */
export const DEPLOY_OPTIONS = { ...DEPLOY_OWN_OPTIONS, ...COMMON_OPTIONS } as const;

/** What an early start needs from a deploy command line. */
export interface EarlyDeployArguments {
  environment: string;
  /** `--timeout` (whole seconds >= 1), or null when not given. */
  timeout: number | null;
  /** The `--hosts` values as given (empty when none): only the hosts they select are started early. */
  hosts: string[];
  /** The boolean options given (`predict-only`, `consistency-only`, `dirty`, `debug`), by their long names. */
  flags: string[];
}

/** Options after which an early start goes on: the boolean ones that neither end the run nor make it local. */
const PASSIVE = new Set(["predict-only", "consistency-only", "dirty", "debug"]);

/**
 * Reads `argv` (the whole command line) as `[-d|--debug]... deploy` followed by exactly one environment name and
 * only these options: `-P -c -D -d` (long forms too), `-t N`, `--timeout N`, `--timeout=N` and `--hosts H`,
 * `--hosts=H` (repeatable). Anything else (other
 * options, combined short options, `--`, help, `-L`, a second name) gives null: the command line is then left to
 * the real parser alone. A wrong reading costs only an unused early connection, which the deployment closes.
 */
export function earlyDeployArguments(argv: string[]): EarlyDeployArguments | null {
  let i = 0;
  while (argv[i] === "-d" || argv[i] === "--debug") i++;
  if (argv[i++] !== "deploy") return null;
  const byShort = new Map(Object.entries(DEPLOY_OPTIONS).map(([name, o]) => ["short" in o ? o.short : "", name]));
  let environment: string | null = null;
  let timeout: number | null = null;
  const hosts: string[] = [];
  const flags: string[] = [];
  for (; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith("-")) {
      if (environment !== null) return null;
      environment = arg;
      continue;
    }
    const eq = arg.indexOf("=");
    const name = arg.startsWith("--")
      ? arg.slice(2, eq < 0 ? undefined : eq)
      : arg.length === 2
      ? byShort.get(arg[1]) ?? ""
      : "";
    if (name === "timeout") {
      const value = arg.startsWith("--") && eq >= 0 ? arg.slice(eq + 1) : argv[++i];
      timeout = Number(value);
      if (!Number.isInteger(timeout) || timeout < 1) return null;
      continue;
    }
    if (name === "hosts") {
      const value = eq >= 0 ? arg.slice(eq + 1) : argv[++i];
      if (value === undefined || value.startsWith("-")) return null;
      hosts.push(value);
      continue;
    }
    if (!PASSIVE.has(name) || eq >= 0) return null;
    if (!flags.includes(name)) flags.push(name);
  }
  if (!environment) return null;
  return { environment: environment.replace(/\.cfg$/, ""), timeout, hosts, flags: flags.sort() };
}

/**
 * The deploy command line that {@linkcode earlyDeployArguments} read, as the real parser (cli/parse.ts
 * `parseCommand`) gives it: `batou deploy` then does not load `node:util` at all (~15-20 ms of CPU in a fresh
 * process here) for the command lines the early reading is sure of.
 */
export function earlyParsedDeploy(early: EarlyDeployArguments): ParsedCommand<typeof DEPLOY_OWN_OPTIONS> {
  const values: Record<string, string | boolean | string[]> = {};
  for (const flag of early.flags) values[flag] = true;
  if (early.timeout !== null) values.timeout = String(early.timeout);
  if (early.hosts.length) values.hosts = [...early.hosts];
  return {
    values: values as ParsedCommand<typeof DEPLOY_OWN_OPTIONS>["values"],
    positionals: [early.environment],
    afterDashes: [],
  };
}
