/**
 * `batou check ENV`: the component files are type-checked with `deno check` (the running deno, source mode) and the
 * errors are reported with project-relative file:line; `batou init` writes the deno.json that lets plain
 * `deno check` (and an editor) see the types of `"batou"`.
 */
import { assert, assertEquals, assertStringIncludes } from "./support/assert.ts";
import { batou, writeFiles } from "./support/cli.ts";
import { parseDiagnostics } from "../cli/check.ts";

const TYPO_COMPONENT = `import { Component, Program, Supervisor } from "batou";
import { Clone } from "batou/lib/git";

export class App extends Component {
  override configure() {
    this.add(new Supervisr());
    this.add(new Program("app", { comand: "/bin/sleep" }));
    this.add(new Clone("https://example.com/x.git", { branch: "main" }));
  }
}
`;

const ENV = "[environment]\nconnect_method = local\n\n[hosts]\nlocalhost = app\n";

Deno.test("check: type errors in a component file are reported with project-relative file:line, exit 1", async () => {
  const dir = await Deno.makeTempDir({ prefix: "batou-check-typo-" });
  try {
    await writeFiles(dir, { "components/app/component.ts": TYPO_COMPONENT, "environments/dev/environment.cfg": ENV });
    const r = await batou(dir, ["check", "dev"]);
    assertEquals(r.code, 1, r.output);
    const lines = r.output.split("\n");
    assert(
      lines.includes(
        "components/app/component.ts:6:18: TS2552 Cannot find name 'Supervisr'. Did you mean 'Supervisor'?",
      ),
      r.output,
    );
    const option = lines.find((l) => l.startsWith("components/app/component.ts:7:35: TS2561 "));
    assert(option, r.output);
    assertStringIncludes(option, "'comand' does not exist in type 'ProgramOptions'");
    assertStringIncludes(option, "'command'");
    assert(lines.includes("ERROR: 2 type error(s) in component files."), r.output);
    // The batou/lib/git import type-checks (Clone's options are known); the project's path is not repeated.
    assert(!r.output.includes(`file://${dir}`), r.output);
    // Nothing is written into the project (no lock file, no config).
    assertEquals([...Deno.readDirSync(dir)].map((e) => e.name).sort(), ["components", "environments"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("check: a project made by batou init is clean, and its deno.json serves plain deno check", async () => {
  const dir = await Deno.makeTempDir({ prefix: "batou-check-init-" });
  try {
    const init = await batou(dir, ["init"]);
    assertEquals(init.code, 0, init.output);
    const config = JSON.parse(await Deno.readTextFile(`${dir}/deno.json`)) as { imports: Record<string, string> };
    assert(config.imports["batou"].endsWith("/mod.ts"), JSON.stringify(config));
    assert(config.imports["batou/lib/git"].endsWith("/lib/git.ts"), JSON.stringify(config));
    const r = await batou(dir, ["check", "dev"]);
    assertEquals(r.code, 0, r.output);
    assertStringIncludes(r.output, "No type errors in 1 component file(s).");
    // The same deno.json gives `deno check` the types: the typo is found by the checker itself, too.
    await writeFiles(dir, { "components/hello/component.ts": TYPO_COMPONENT });
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["check", "--quiet", "--no-lock", "components/hello/component.ts"],
      cwd: dir,
      env: { NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
    assertEquals(out.code, 1, text);
    assertStringIncludes(text, "Cannot find name 'Supervisr'. Did you mean 'Supervisor'?");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("check: usage errors exit 2; --help explains the command", async () => {
  const dir = await Deno.makeTempDir({ prefix: "batou-check-usage-" });
  try {
    const none = await batou(dir, ["check"]);
    assertEquals(none.code, 2, none.output);
    assertStringIncludes(none.output, "missing ENV for batou check");
    const help = await batou(dir, ["check", "--help"]);
    assertEquals(help.code, 0, help.output);
    assertStringIncludes(help.output, "usage: batou check ENV");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("check: the checker's diagnostics are read with their place, message and snippet", () => {
  const text = `Check components/app/component.ts
TS2552 [ERROR]: Cannot find name 'Supervisr'. Did you mean 'Supervisor'?
    this.add(new Supervisr());
                 ~~~~~~~~~
    at file:///p/components/app/component.ts:6:18

TS2322 [ERROR]: Type 'string' is not assignable to type 'number'.
  The expected type comes from property 'port'.
    at file:///elsewhere/x.ts:1:2

Found 2 errors.
`;
  const d = parseDiagnostics(text, "/p");
  assertEquals(d.map((x) => [x.place, x.code]), [
    ["components/app/component.ts:6:18", "TS2552"],
    ["/elsewhere/x.ts:1:2", "TS2322"],
  ]);
  assertEquals(d[0].snippet, ["    this.add(new Supervisr());", "                 ~~~~~~~~~"]);
  assertEquals(d[1].message, "Type 'string' is not assignable to type 'number'.");
});
