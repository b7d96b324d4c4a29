/**
 * `batou deploy ENV --report FILE` (the JSON record of a run, also of a failed one), the `.batou.json` version
 * pin (written by `batou init`, warned about at deploy) and `batou --version`, driven through the command line.
 */
import { join } from "node:path";
import { assert, assertEquals, assertStringIncludes } from "./support/assert.ts";
import { batou, exampleProject, writeFiles } from "./support/cli.ts";
import { VERSION } from "../core/runtime/version.ts";
import type { DeployReport } from "../remote/controller/deploy_report.ts";

async function readReport(path: string): Promise<DeployReport> {
  return JSON.parse(await Deno.readTextFile(path)) as DeployReport;
}

Deno.test("--report records a successful run: hosts, roots, changed components, steps", async () => {
  const dir = await exampleProject("hello-world");
  try {
    await Deno.mkdir(join(dir, "reports")); // the report's folder must exist (issue 16: none is created)
    const r = await batou(dir, ["deploy", "dev", "--report", "reports/run.json"]);
    assertEquals(r.code, 0, r.output);
    const report = await readReport(join(dir, "reports/run.json"));
    assertEquals(report.batou, VERSION);
    assertEquals(report.environment, "dev");
    assertEquals(report.action, "deploy");
    assertEquals([report.success, report.exitCode, report.failedStep], [true, 0, null]);
    assertEquals(report.hosts, [{ name: "localhost", fqdn: "localhost", ignored: false, connected: true }]);
    assertEquals(report.roots.map(({ duration: _d, ...r }) => r), [
      { host: "localhost", root: "hello", status: "ok", changed: true },
    ]);
    assertEquals(typeof report.roots[0].duration, "number");
    assert(
      report.changedComponents.some((c) =>
        c.host === "localhost" && c.breadcrumbs === "Hello > File('work/hello/hello') > Content('hello')"
      ),
      JSON.stringify(report.changedComponents),
    );
    assertEquals(report.steps.map((s) => [s.name, s.status]), [
      ["load", "ok"],
      ["connect", "ok"],
      ["deploy", "ok"],
      ["summarize", "ok"],
    ]);
    assert(report.steps.every((s) => typeof s.duration === "number" && s.duration >= 0));
    assertEquals(report.errors, []);
    assert(Date.parse(report.finished) >= Date.parse(report.started));

    // Again: nothing changes, and the report says so.
    const again = await batou(dir, ["deploy", "dev", "-P", "--report", join(dir, "reports/run.json")]);
    assertEquals(again.code, 0, again.output);
    const second = await readReport(join(dir, "reports/run.json"));
    assertEquals(second.action, "predict");
    assertEquals(second.roots.map((r) => [r.root, r.status, r.changed]), [["hello", "ok", false]]);
    assertEquals(second.changedComponents, []);
    const left: string[] = [];
    for await (const e of Deno.readDir(join(dir, "reports"))) left.push(e.name);
    assertEquals(left, ["run.json"], "no temporary file is left beside the report");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("--report is written when the deployment fails, naming the step, the root and the error", async () => {
  const dir = await exampleProject("hello-world");
  try {
    await writeFiles(dir, {
      "components/broken/component.ts": `import { Component, UpdateNeeded } from "batou";
export class Broken extends Component {
  override verify() { throw new UpdateNeeded(); }
  override async update() { await this.cmd("echo the-disk-is-full >&2; exit 3"); }
}
`,
      "environments/dev/environment.cfg": `[environment]
connect_method = local

[hosts]
localhost = hello, broken
`,
    });
    const r = await batou(dir, ["deploy", "dev", "--report", "report.json"]);
    assertEquals(r.code, 1, r.output);
    const report = await readReport(join(dir, "report.json"));
    assertEquals([report.success, report.exitCode, report.failedStep], [false, 1, "deploy"]);
    const broken = report.roots.find((x) => x.root === "broken");
    assertEquals(broken?.status, "failed", JSON.stringify(report.roots));
    assertEquals(report.steps.at(-1)?.name, "deploy");
    assertEquals(report.steps.at(-1)?.status, "failed");
    assertEquals(report.errors.length, 1, JSON.stringify(report.errors));
    assertEquals(report.errors[0].type, "CmdExecutionError");
    assertStringIncludes(report.errors[0].message, "the-disk-is-full");
    // The host and the component it failed in (issue 16: the report had "host": null).
    assertEquals(report.errors[0].host, "localhost");
    assertStringIncludes(report.errors[0].message, "Component: Broken");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("--report records configuration errors with their host", async () => {
  const dir = await exampleProject("hello-world");
  try {
    const cfg = join(dir, "environments/dev/environment.cfg");
    const text = await Deno.readTextFile(cfg);
    assert(text.includes("[component:hello]\n"));
    await Deno.writeTextFile(cfg, text.replace("[component:hello]\n", "[component:hello]\nno_such_attribute = 1\n"));
    const r = await batou(dir, ["deploy", "dev", "--report", "report.json"]);
    assertEquals(r.code, 1, r.output);
    const report = await readReport(join(dir, "report.json"));
    assertEquals(report.failedStep, "connect");
    assertEquals(report.roots, []);
    assert(report.errors.length >= 1, JSON.stringify(report.errors));
    const e = report.errors.find((x) => x.type === "MissingOverrideAttributes");
    assert(e, JSON.stringify(report.errors));
    assertEquals(e.host, "localhost");
    assertStringIncludes(e.message, "no_such_attribute");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test(".batou.json: init pins this version; deploy warns when another version is pinned", async () => {
  const parent = await Deno.makeTempDir({ prefix: "batou-pin-" });
  try {
    const init = await batou(parent, ["init", "proj"]);
    assertEquals(init.code, 0, init.output);
    const dir = join(parent, "proj");
    assertEquals(JSON.parse(await Deno.readTextFile(join(dir, ".batou.json"))), { batou: { version: VERSION } });

    const same = await batou(dir, ["deploy", "dev"]);
    assertEquals(same.code, 0, same.output);
    assert(!same.output.includes("pins batou"), same.output);

    await Deno.writeTextFile(join(dir, ".batou.json"), JSON.stringify({ batou: { version: "0.0.1" } }));
    const other = await batou(dir, ["deploy", "dev"]);
    assertEquals(other.code, 0, other.output);
    assertStringIncludes(
      other.output,
      `WARN: This project pins batou 0.0.1 in .batou.json, but this is batou ${VERSION}.`,
    );

    await Deno.writeTextFile(join(dir, ".batou.json"), "{ not json");
    const broken = await batou(dir, ["deploy", "dev"]);
    assertEquals(broken.code, 0, broken.output);
    assertStringIncludes(broken.output, ".batou.json is not valid JSON");
  } finally {
    await Deno.remove(parent, { recursive: true });
  }
});

Deno.test("batou --version names the version (and says source mode in a checkout)", async () => {
  const r = await batou(Deno.env.get("TMPDIR") ?? "/tmp", ["--version"]);
  assertEquals(r.code, 0, r.output);
  assertEquals(r.stdout.trim(), `batou ${VERSION} (source)`);
});
