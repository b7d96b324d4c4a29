/**
 * `--help` after every command and the usage errors, all made from the command table (cli/commands.ts): through
 * main.ts for every command and `secrets` subcommand, and cli/parse.ts directly for the parsing rules.
 *
 * @module
 */
import { assert, assertEquals, assertStringIncludes } from "./support/assert.ts";
import { batou } from "./support/cli.ts";
import { allOptions, COMMANDS, type CommandSpec, SECRETS_COMMANDS, visibleCommands } from "../cli/commands.ts";
import { parseCommand, UsageError } from "../cli/parse.ts";
import { usageLine } from "../cli/usage.ts";

/** Every command a user can ask for help on, with its words after `batou`. */
const PATHS: [string[], CommandSpec][] = [
  ...visibleCommands().map((c): [string[], CommandSpec] => [[c.name], c]),
  ...Object.values(SECRETS_COMMANDS).map((c): [string[], CommandSpec] => [["secrets", c.name], c]),
];

/** Runs `batou` in a fresh empty directory for each of `argvs`, two at a time. */
async function runAll(argvs: string[][]): Promise<Awaited<ReturnType<typeof batou>>[]> {
  const dir = await Deno.makeTempDir({ prefix: "batou-help-" });
  try {
    const results: Awaited<ReturnType<typeof batou>>[] = [];
    for (let i = 0; i < argvs.length; i += 2) {
      results.push(...await Promise.all(argvs.slice(i, i + 2).map((argv) => batou(dir, argv))));
    }
    return results;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("help: `batou CMD --help` prints the command's usage with every argument and option explained", async () => {
  const results = await runAll(PATHS.map(([path]) => [...path, "--help"]));
  PATHS.forEach(([path, spec], i) => {
    const r = results[i];
    const what = `batou ${path.join(" ")} --help:\n${r.output}`;
    assertEquals(r.code, 0, what);
    assertEquals(r.stderr, "", what);
    assert(r.stdout.startsWith(usageLine(path, spec) + "\n"), what);
    for (const arg of spec.args) {
      assertStringIncludes(r.stdout, `  ${arg.afterDashes ? `-- ${arg.name}` : arg.name}`, what);
    }
    for (const [name, o] of Object.entries(allOptions(spec))) {
      assertStringIncludes(r.stdout, `--${name}`, what);
      assertStringIncludes(r.stdout, o.help.split("\n")[0], what);
    }
    if (spec.subcommands) {
      for (const sub of Object.keys(spec.subcommands)) assertStringIncludes(r.stdout, `  ${sub}`, what);
    }
  });
  // More than one line: `graph --help` used to be only its usage line.
  assert(results[PATHS.findIndex(([p]) => p[0] === "graph")].stdout.split("\n").length > 8);
});

Deno.test("help: -h works as --help, also after arguments", async () => {
  const [deploy, completions, edit] = await runAll([
    ["deploy", "prod", "-h"],
    ["completions", "-h"],
    ["secrets", "edit", "prod", "--help"],
  ]);
  for (const r of [deploy, completions, edit]) assertEquals(r.code, 0, r.output);
  assert(deploy.stdout.startsWith("usage: batou deploy ENV "), deploy.output);
  assertStringIncludes(deploy.stdout, "--hosts H[,H...]");
  assert(completions.stdout.startsWith("usage: batou completions SHELL"), completions.output);
  assert(edit.stdout.startsWith("usage: batou secrets edit ENV [FILE]"), edit.output);
});

Deno.test("help: an unknown option names the command, shows its usage line and exits 2", async () => {
  const results = await runAll(PATHS.map(([path]) => [...path, "--bogus"]));
  PATHS.forEach(([path, spec], i) => {
    const r = results[i];
    const name = ["batou", ...path].join(" ");
    const what = `${name} --bogus:\n${r.output}`;
    assertEquals(r.code, 2, what);
    assertEquals(r.stdout, "", what);
    const [first, blank, ...rest] = r.stderr.split("\n");
    assertEquals(first, `batou: error: unknown option --bogus for ${name}`, what);
    assertEquals(blank, "", what);
    assert(rest.join("\n").startsWith(usageLine(path, spec)), what);
    assertStringIncludes(r.stderr, `Run \`${name} --help\``, what);
    // Nothing of node:util's own text (its advice on `--` had an unbalanced quote).
    assert(!r.stderr.includes("To specify a positional") && !r.stderr.includes("'"), what);
  });
});

Deno.test("help: usage errors in plain words, with did-you-mean", async () => {
  const cases: [string[], string][] = [
    [["deploy"], "missing ENV for batou deploy: the environment"],
    [["deploy", "dev", "--dirty", "--hots", "web1"], "unknown option --hots for batou deploy (did you mean --hosts?)"],
    [["deploy", "dev", "-x"], "unknown option -x for batou deploy"],
    [["deploy", "dev", "-j"], "option -j/--jobs of batou deploy needs a value (N)"],
    [["deploy", "dev", "--hosts", "-P"], "option --hosts of batou deploy needs a value (H[,H...])"],
    [["graph"], "missing ENV for batou graph: the environment"],
    [["completions"], "missing SHELL for batou completions: bash, zsh or fish"],
    [["completions", "bash", "zsh"], "unexpected argument `zsh` for batou completions (it takes SHELL)"],
    [["secrets", "add"], "missing KEY for batou secrets add: an age1... or ssh public key"],
    [["secrets", "-x"], "unknown option -x for batou secrets"],
    [["update", "--version", "next"], "--version next is not a version like 1.2.3"],
    [["updat"], "unknown command `updat` (did you mean update?)"],
  ];
  const results = await runAll(cases.map(([argv]) => argv));
  cases.forEach(([argv, message], i) => {
    const r = results[i];
    const what = `batou ${argv.join(" ")}:\n${r.output}`;
    assertEquals(r.code, 2, what);
    assertStringIncludes(r.stderr.split("\n")[0], `batou: error: ${message}`, what);
    assertStringIncludes(r.stderr, "usage: batou", what);
  });
  // A command's usage error shows that command's usage, not the global help.
  assert(!results[0].stderr.includes("commands:"), results[0].stderr);
});

Deno.test("parse: values, repeated options, negative numbers and -- are read by the table", async () => {
  const deploy = await parseCommand(["deploy"], COMMANDS.deploy, [
    "-PD",
    "prod",
    "--hosts",
    "a",
    "--hosts=b*",
    "-j",
    "-1",
    "--timeout=5",
  ]);
  assert(deploy !== null);
  assertEquals(deploy.positionals, ["prod"]);
  assertEquals(deploy.values["predict-only"], true);
  assertEquals(deploy.values.dirty, true);
  assertEquals(deploy.values.local, undefined);
  assertEquals(deploy.values.hosts, ["a", "b*"]);
  assertEquals(deploy.values.jobs, "-1"); // a wrong value for main.ts to explain, not a missing one
  assertEquals(deploy.values.timeout, "5");
  // A command with an argument after `--` (as `batou run ENV -- CMD`): what follows `--` is kept apart.
  const run = {
    name: "run",
    summary: "run a command",
    args: [{ name: "ENV", help: "the environment" }, { name: "CMD", help: "the command", afterDashes: true }],
    options: { hosts: { type: "string", multiple: true, value: "H", help: "only these hosts" } },
  } as const satisfies CommandSpec;
  const parsed = await parseCommand(["run"], run, ["prod", "--hosts", "web1", "--", "ls", "-l", "--help"]);
  assert(parsed !== null);
  assertEquals(parsed.positionals, ["prod"]);
  assertEquals(parsed.afterDashes, ["ls", "-l", "--help"]);
  assertEquals(parsed.values.hosts, ["web1"]);
  const error = await parseCommand(["run"], run, ["prod"]).then(() => null, (e) => e);
  assert(error instanceof UsageError, String(error));
  assertEquals(error.message, "missing -- CMD... for batou run: the command");
  assertEquals(error.path, ["run"]);
  // Without such an argument, words after `--` are ordinary arguments.
  const init = await parseCommand(["init"], COMMANDS.init, ["--", "-odd-dir"]);
  assertEquals(init?.positionals, ["-odd-dir"]);
});
