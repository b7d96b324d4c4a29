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
import { type EarlyDeployArguments, earlyDeployArguments, earlyParsedDeploy } from "./cli/deploy_args.ts";
import { COMMANDS } from "./cli/commands.ts";
import { parseCommand, unknownCommand, UsageError } from "./cli/parse.ts";
import { globalHelp, usageHint } from "./cli/usage.ts";
import { hostPatterns } from "./core/model/host_selection.ts";

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
  // The early reading is sure of plain command lines: then node:util's parser need not be loaded at all.
  const parsed = early ? earlyParsedDeploy(early) : await parseCommand(["deploy"], COMMANDS.deploy, args);
  if (parsed === null) return 0;
  const { values, positionals } = parsed;
  const jobs = values.jobs === undefined ? null : Number(values.jobs);
  if (jobs !== null && (!Number.isInteger(jobs) || jobs < 1)) {
    throw new UsageError("--jobs takes a whole number >= 1", ["deploy"]);
  }
  const timeout = values.timeout === undefined ? null : Number(values.timeout);
  if (timeout !== null && (!Number.isInteger(timeout) || timeout < 1)) {
    throw new UsageError("--timeout takes a whole number of seconds >= 1", ["deploy"]);
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
      predictOnly: !!values["predict-only"],
      consistencyOnly: !!values["consistency-only"],
      local: !!values.local,
      dirty: !!values.dirty,
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
  const parsed = await parseCommand(["graph"], COMMANDS.graph, args);
  if (parsed === null) return 0;
  const { values, positionals } = parsed;
  const [{ graphCommand }, batou, { loadEnvironmentSecrets }] = await Promise.all([
    import("./cli/graph.ts"),
    import("./mod.ts"),
    import("./core/secrets/load.ts"),
  ]);
  return await graphCommand({
    environment: positionals[0].replace(/\.cfg$/, ""),
    baseDir: projectDir(),
    format: values.format ?? "dot",
    modules: { batou },
    loadSecrets: loadEnvironmentSecrets,
  });
}

async function main(argv: string[]): Promise<number> {
  const early = earlyDeployArguments(argv);
  if (argv.find((a) => a !== "-d" && a !== "--debug") === "deploy") {
    // Signals are handled from now on: a Ctrl-C while loading says so and closes the early connections cleanly.
    deployInterrupt = new Interrupt();
    deployInterrupt.install();
  }
  if (early) startEarlyConnections(projectDir(), early.environment, early.timeout, early.hosts);
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
      await Deno.stdout.write(new TextEncoder().encode(globalHelp()));
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
    case "init": {
      const parsed = await parseCommand(["init"], COMMANDS.init, rest);
      if (parsed === null) return 0;
      return await (await import("./cli/init.ts")).initProject(parsed.positionals, projectDir());
    }
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
      const parsed = await parseCommand(["completions"], COMMANDS.completions, rest);
      if (parsed === null) return 0;
      const { completionScript } = await import("./cli/completions.ts");
      await Deno.stdout.write(new TextEncoder().encode(completionScript(parsed.positionals[0])!));
      return 0;
    }
    default:
      throw unknownCommand(command);
  }
}

if (import.meta.main) {
  let code: number;
  const debug = Deno.args.includes("-d") || Deno.args.includes("--debug");
  try {
    code = await main([...Deno.args]);
  } catch (e) {
    if (e instanceof UsageError) {
      await Deno.stderr.write(new TextEncoder().encode(`batou: error: ${e.message}\n\n${usageHint(e.path)}`));
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
