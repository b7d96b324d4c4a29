/** The early reading of `batou deploy`'s command line (cli/deploy_args.ts) against node:util's parseArgs. */
import { assertEquals } from "./support/assert.ts";
import { parseArgs } from "node:util";
import { DEPLOY_OPTIONS, earlyDeployArguments, earlyParsedDeploy } from "../cli/deploy_args.ts";
import { parseCommand } from "../cli/parse.ts";
import { COMMANDS } from "../cli/commands.ts";

Deno.test("early deploy arguments: plain command lines are read as the real parser reads them", () => {
  const cases: [string[], string, number | null, string[]?][] = [
    [["deploy", "prod"], "prod", null],
    [["deploy", "prod.cfg"], "prod", null],
    [["-d", "deploy", "prod"], "prod", null],
    [["deploy", "-P", "prod", "--dirty"], "prod", null],
    [["deploy", "--predict-only", "-c", "-D", "-d", "--debug", "prod"], "prod", null],
    [["deploy", "-t", "7", "prod"], "prod", 7],
    [["deploy", "prod", "--timeout", "3"], "prod", 3],
    [["deploy", "--timeout=12", "prod"], "prod", 12],
    [["deploy", "--hosts", "web1,web2", "--hosts=db*", "prod"], "prod", null, ["web1,web2", "db*"]],
  ];
  for (const [argv, environment, timeout, hosts = []] of cases) {
    const early = earlyDeployArguments(argv);
    assertEquals(
      early && { ...early, flags: undefined },
      { environment, timeout, hosts, flags: undefined },
      argv.join(" "),
    );
    // What the real parser makes of the same arguments.
    const args = argv.slice(argv.indexOf("deploy") + 1);
    const { values, positionals } = parseArgs({ args, allowPositionals: true, options: DEPLOY_OPTIONS });
    assertEquals(positionals[0].replace(/\.cfg$/, ""), environment);
    assertEquals(values.timeout === undefined ? null : Number(values.timeout), timeout);
    assertEquals(values.local, undefined);
    assertEquals(values.hosts ?? [], hosts);
  }
});

Deno.test("early deploy arguments: anything unusual is left to the real parser", () => {
  for (
    const argv of [
      [],
      ["deploy"],
      ["graph", "prod"],
      ["deploy", "-L", "-P", "prod"],
      ["deploy", "--local", "prod"],
      ["deploy", "-PL", "prod"],
      ["deploy", "-h"],
      ["deploy", "prod", "--help"],
      ["deploy", "prod", "other"],
      ["deploy", "-j", "2", "prod"],
      ["deploy", "prod", "--hosts"],
      ["deploy", "--hosts", "-P", "prod"],
      ["deploy", "-p", "x", "prod"],
      ["deploy", "--report", "r.json", "prod"],
      ["deploy", "-t", "0", "prod"],
      ["deploy", "-t", "x", "prod"],
      ["deploy", "--timeout"],
      ["deploy", "--dirty=yes", "prod"],
      ["deploy", "--", "prod"],
      ["deploy", "--unknown", "prod"],
    ]
  ) {
    assertEquals(earlyDeployArguments(argv), null, argv.join(" "));
  }
});

Deno.test("early deploy arguments: what deploy runs with equals the real parser's result (node:util not loaded)", async () => {
  const lines = [
    ["deploy", "prod"],
    ["deploy", "prod.cfg"],
    ["-d", "deploy", "prod"],
    ["deploy", "-P", "prod", "--dirty"],
    ["deploy", "--predict-only", "-c", "-D", "-d", "--debug", "prod"],
    ["deploy", "-P", "-P", "--consistency-only", "prod"],
    ["deploy", "-t", "7", "prod"],
    ["deploy", "prod", "--timeout", "3"],
    ["deploy", "--timeout=12", "-D", "prod"],
    ["deploy", "--hosts", "web1,web2", "--hosts=db*", "prod", "-d"],
  ];
  const strip = (p: { values: unknown; positionals: string[] }) => ({
    values: p.values,
    positionals: p.positionals.map((x) => x.replace(/\.cfg$/, "")),
  });
  for (const argv of lines) {
    const early = earlyDeployArguments(argv);
    if (!early) throw new Error(`not read early: ${argv.join(" ")}`);
    const real = await parseCommand(["deploy"], COMMANDS.deploy, argv.slice(argv.indexOf("deploy") + 1));
    assertEquals(strip(earlyParsedDeploy(early)), strip(real!), argv.join(" "));
  }
});
