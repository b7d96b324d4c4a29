/**
 * The `batou` command line.
 *
 * @module
 */
// Only light modules are imported up front: `deploy` starts its ssh connections (remote/controller/early_connect.ts) before the
// component model, the library and the npm packages are loaded, and every command loads only what it uses.
import { dirname, resolve } from "./core/runtime/path.ts";
import { VERSION, versionLine } from "./core/runtime/version.ts";
import { output, TerminalBackend } from "./core/model/output.ts";
import { pinWarning } from "./cli/pin.ts";
import { closeEarlyConnections, startEarlyConnections } from "./remote/controller/early_connect.ts";
import { Interrupt } from "./remote/controller/interrupt.ts";
import {
  DEPLOY_OPTIONS,
  type EarlyDeployArguments,
  earlyDeployArguments,
  joinNegativeValues,
} from "./cli/deploy_args.ts";
import { hostPatterns } from "./core/model/host_selection.ts";

/** `parseArgs` of `node:util`, loaded on first use (after `batou deploy` started its ssh connections). */
async function parseArgs<T extends import("node:util").ParseArgsConfig>(
  config: T,
): Promise<ReturnType<typeof import("node:util").parseArgs<T>>> {
  return (await import("node:util")).parseArgs(config);
}

const USAGE = `batou v${VERSION}: multi-(host|component|environment|version|platform) deployment

usage: batou [-d] <command> [options]

commands:
  deploy ENV        deploy an environment
  secrets ...       manage encrypted secrets (edit, summary, add, remove, reencrypt, decrypttostdout)
  init [DIR]        create a new deployment project
  graph ENV         draw the root components and their dependencies
  run ENV -- CMD    run a command on the environment's hosts (--hosts to select)
  check ENV         type-check the component files (with deno check)
  update            update this batou binary
  completions SHELL print a completion script (bash, zsh, fish)
  agent             (internal) run as the remote agent on stdin/stdout

options:
  -d, --debug       show debug output and stack traces
  -h, --help        show help (also after a command)
  --version         show the version
`;

const DEPLOY_USAGE = `usage: batou deploy ENV [-P|--predict-only] [-c|--consistency-only] [-L|--local] [-D|--dirty]
                    [-j|--jobs N] [-t|--timeout S] [-p|--platform P] [-d|--debug] [--report FILE]
                    [--hosts H[,H...]]

  ENV                     the environment (environments/ENV/environment.cfg or environments/ENV.cfg)
  -P, --predict-only      only predict what would change; changes nothing
  -c, --consistency-only  only configure the model on all hosts (no deployment)
  -L, --local             with -c or -P: configure/predict on this machine only
  -D, --dirty             allow uncommitted or unpushed changes in the repository
  -j, --jobs N            deploy at most N hosts in parallel
  -t, --timeout S         timeout (seconds) for components and connections
  -p, --platform P        override the platform
  -d, --debug             debug output and stack traces
  --report FILE           write a JSON record of the run to FILE (also when the run fails)
  --hosts H[,H...]        only these hosts (names or globs such as 'web*'; repeatable); the model is still
                          configured as a whole, so resources from other hosts are resolved as usual
`;

/** A wrong command line: printed with the usage, exit code 2. */
class UsageError extends Error {}

function projectDir(): string {
  return Deno.env.get("INIT_CWD") || Deno.cwd();
}

/** Why the report cannot be written to `path` (its folder missing or not a folder), or null. Never creates it. */
function reportDirProblem(path: string): string | null {
  const dir = dirname(path);
  try {
    if (Deno.statSync(dir).isDirectory) return null;
    return `Cannot write the report ${path}: ${dir} is not a directory`;
  } catch {
    return `Cannot write the report ${path}: the directory ${dir} does not exist`;
  }
}

/** The signal handling of `batou deploy`, installed in main() when the early reading starts connections. */
let deployInterrupt: Interrupt | null = null;

async function cmdDeploy(args: string[], debug: boolean, early: EarlyDeployArguments | null): Promise<number> {
  const { values, positionals } = await parseArgs({
    args: joinNegativeValues(args),
    allowPositionals: true,
    options: DEPLOY_OPTIONS,
  });
  if (values.help) {
    console.log(DEPLOY_USAGE);
    return 0;
  }
  if (positionals.length !== 1) throw new UsageError("deploy takes exactly one environment name");
  const jobs = values.jobs === undefined ? null : Number(values.jobs);
  if (jobs !== null && (!Number.isInteger(jobs) || jobs < 1)) throw new UsageError("--jobs takes a whole number >= 1");
  const timeout = values.timeout === undefined ? null : Number(values.timeout);
  if (timeout !== null && (!Number.isInteger(timeout) || timeout < 1)) {
    throw new UsageError("--timeout takes a whole number of seconds >= 1");
  }
  const environment = positionals[0].replace(/\.cfg$/, "");
  const report = values.report === undefined ? null : resolve(projectDir(), values.report);
  if (report !== null) {
    const problem = reportDirProblem(report);
    if (problem !== null) {
      output.error(problem);
      return 1;
    }
  }
  // Started already when the early reading of the command line was sure and agrees (see main()); else now.
  const hosts = values.hosts ?? [];
  const started = early?.environment === environment && early.timeout === timeout &&
    early.hosts.join("\n") === hosts.join("\n");
  if (!values.local && !started) startEarlyConnections(projectDir(), environment, timeout, hosts);
  // Remote deployments: the terminal is written asynchronously, so that reading the agents' output never waits
  // for it (--local keeps synchronous writes: component code may print with console.log in between).
  if (!values.local && output.backend instanceof TerminalBackend) output.backend.decouple();
  const interrupt = deployInterrupt ?? new Interrupt();
  interrupt.install();
  try {
    return await deployWith({
      interrupt,
      environment,
      baseDir: projectDir(),
      predictOnly: values["predict-only"],
      consistencyOnly: values["consistency-only"],
      local: values.local,
      dirty: values.dirty,
      jobs,
      timeout,
      hosts: hostPatterns(hosts),
      platform: values.platform ?? null,
      debug: debug || !!values.debug,
      report,
    });
  } finally {
    await closeEarlyConnections();
    interrupt.uninstall();
  }
}

/** Loads the deployment machinery (while early connections are being set up) and runs the deployment. */
async function deployWith(
  opts: Omit<import("./remote/controller/deploy.ts").DeployOptions, "modules" | "version" | "loadSecrets">,
): Promise<number> {
  const [{ deploy }, batou, { remoteDeployHooks }, { loadEnvironmentSecrets }] = await Promise.all([
    import("./remote/controller/deploy.ts"),
    import("./mod.ts"),
    import("./remote/controller/remote_hooks.ts"),
    import("./core/secrets/load.ts"),
  ]);
  const pinned = await pinWarning(opts.baseDir, VERSION);
  if (pinned) output.warn(pinned);
  return await deploy({
    ...opts,
    modules: { batou },
    version: VERSION,
    loadSecrets: loadEnvironmentSecrets,
    ...remoteDeployHooks(),
  });
}

async function cmdGraph(args: string[]): Promise<number> {
  const { values, positionals } = await parseArgs({
    args,
    allowPositionals: true,
    options: { format: { type: "string", short: "f", default: "dot" }, help: { type: "boolean", short: "h" } },
  });
  if (values.help) {
    console.log("usage: batou graph ENV [--format dot|mermaid]");
    return 0;
  }
  if (positionals.length !== 1) throw new UsageError("graph takes exactly one environment name");
  const [{ graphCommand }, batou, { loadEnvironmentSecrets }] = await Promise.all([
    import("./cli/graph.ts"),
    import("./mod.ts"),
    import("./core/secrets/load.ts"),
  ]);
  return await graphCommand({
    environment: positionals[0].replace(/\.cfg$/, ""),
    baseDir: projectDir(),
    format: values.format!,
    modules: { batou },
    loadSecrets: loadEnvironmentSecrets,
  });
}

async function main(argv: string[]): Promise<number> {
  const early = earlyDeployArguments(argv);
  if (early) {
    // Signals are handled from now on: a Ctrl-C while loading still closes the early connections cleanly.
    deployInterrupt = new Interrupt();
    deployInterrupt.install();
    startEarlyConnections(projectDir(), early.environment, early.timeout, early.hosts);
  }
  let debug = false;
  while (argv[0] === "-d" || argv[0] === "--debug") {
    debug = true;
    argv = argv.slice(1);
  }
  const [command, ...rest] = argv;
  switch (command) {
    case undefined:
    case "-h":
    case "--help":
    case "help":
      console.log(USAGE);
      return command === undefined ? 2 : 0;
    case "--version":
    case "version":
      console.log(versionLine());
      return 0;
    case "deploy":
      return await cmdDeploy(rest, debug, early);
    case "agent": {
      const [{ runAgent }, batou] = await Promise.all([import("./remote/agent/agent.ts"), import("./mod.ts")]);
      await runAgent({ batou }, VERSION);
      return 0;
    }
    case "init":
      return await (await import("./cli/init.ts")).initProject(rest, projectDir());
    case "graph":
      return await cmdGraph(rest);
    case "run":
      return await (await import("./cli/run.ts")).runCommand(rest, debug, async (run) => {
        const [{ runOnHosts }, batou] = await Promise.all([
          import("./remote/controller/run_command.ts"),
          import("./mod.ts"),
        ]);
        return await runOnHosts({ ...run, baseDir: projectDir(), modules: { batou } });
      });
    case "check":
      return await (await import("./cli/check.ts")).checkCommand(rest, projectDir());
    case "secrets":
      // Loaded on demand (as the secret providers, see core/secrets/load.ts): they bring age and OpenPGP, which
      // deployments and the agent do not need.
      return await (await import("./cli/secrets.ts")).secretsCommand(rest, projectDir(), debug);
    case "update":
      return await (await import("./cli/update.ts")).updateCommand(rest, { projectDir: projectDir() });
    case "completions": {
      const { completionScript } = await import("./cli/completions.ts");
      const script = rest.length === 1 ? completionScript(rest[0]) : null;
      if (!script) throw new UsageError("usage: batou completions bash|zsh|fish");
      await Deno.stdout.write(new TextEncoder().encode(script));
      return 0;
    }
    default:
      throw new UsageError(`unknown command \`${command}\``);
  }
}

if (import.meta.main) {
  let code: number;
  const debug = Deno.args.includes("-d") || Deno.args.includes("--debug");
  try {
    code = await main([...Deno.args]);
  } catch (e) {
    if (
      e instanceof UsageError || (e instanceof TypeError && (e as { code?: string }).code?.startsWith("ERR_PARSE_ARGS"))
    ) {
      await Deno.stderr.write(new TextEncoder().encode(`batou: error: ${(e as Error).message}\n\n${USAGE}`));
      code = 2;
    } else {
      output.error(`Unexpected exception: ${(e as Error)?.message ?? e}`);
      if (debug) output.line(String((e as Error)?.stack ?? ""));
      code = 1;
    }
  }
  await closeEarlyConnections(); // whatever the command line started early and nobody took
  await output.drain();
  Deno.exit(code);
}
