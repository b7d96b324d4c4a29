/**
 * End-to-end: deploying to this machine through the agent (`connect_method = local`),
 * driven through the command line as a user would.
 */
import { assert, assertEquals, assertMatch, assertStringIncludes } from "./support/assert.ts";
import { join } from "node:path";
import { batou, changeLines, exampleProject, fileIdentity, writeFiles } from "./support/cli.ts";

function assertNotIncludes(text: string, part: string) {
  assert(!text.includes(part), `expected output not to contain ${JSON.stringify(part)}:\n${text}`);
}

Deno.test("first deploy creates the files and reports each change", async () => {
  const dir = await exampleProject("hello-world");
  try {
    const r = await batou(dir, ["deploy", "dev"]);
    assertEquals(r.code, 0, r.output);
    assertEquals(await Deno.readTextFile(join(dir, "work/hello/hello")), "Hello from batou\n");
    assertEquals((await Deno.stat(join(dir, "work/hello/hello.conf"))).mode! & 0o777, 0o600);
    assertEquals(await Deno.readLink(join(dir, "work/hello/current")), join(dir, "work/hello/hello"));
    assertStringIncludes(r.stdout, "🚀 localhost: Hello > File('work/hello/hello') > Content('hello')");
    assertStringIncludes(r.stdout, "  hello +Hello from batou");
    assertStringIncludes(r.stdout, "⚪ localhost: Scheduling component hello ...");
    assertMatch(r.stdout, /=+ DEPLOYMENT FINISHED =+/);
    assertMatch(r.stdout, /Deployment took total=\d+\.\d\ds, connect=\d+\.\d\ds, deploy=\d+\.\d\ds/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a re-deploy with nothing changed changes nothing: no change lines, same mtime and inode", async () => {
  const dir = await exampleProject("hello-world");
  try {
    assertEquals((await batou(dir, ["deploy", "dev"])).code, 0);
    const files = ["work/hello/hello", "work/hello/hello.conf", "work/hello/current"];
    const before = await Promise.all(files.map((f) => fileIdentity(join(dir, f))));
    await new Promise((r) => setTimeout(r, 20));
    const r = await batou(dir, ["deploy", "dev"]);
    assertEquals(r.code, 0, r.output);
    assertEquals(changeLines(r.stdout), []);
    const after = await Promise.all(files.map((f) => fileIdentity(join(dir, f))));
    assertEquals(after, before);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("changing one override changes exactly one file", async () => {
  const dir = await exampleProject("multi");
  try {
    assertEquals((await batou(dir, ["deploy", "dev"])).code, 0);
    const cfg = join(dir, "environments/dev/environment.cfg");
    await Deno.writeTextFile(cfg, (await Deno.readTextFile(cfg)).replace("workers = 4", "workers = 8"));
    const other = await fileIdentity(join(dir, "work/proxy/proxy.conf"));
    const r = await batou(dir, ["deploy", "dev"]);
    assertEquals(r.code, 0, r.output);
    assertEquals(changeLines(r.stdout), [
      "🚀 app: WebApp > File('work/webapp/app.json') > Content('app.json')",
    ]);
    assertStringIncludes(r.stdout, '  app.json -  "workers": 4,');
    assertStringIncludes(r.stdout, '  app.json +  "workers": 8,');
    assertEquals(await fileIdentity(join(dir, "work/proxy/proxy.conf")), other);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("multi-host ordering: providers deploy before the roots that require them", async () => {
  const dir = await exampleProject("multi");
  try {
    const r = await batou(dir, ["deploy", "dev"]);
    assertEquals(r.code, 0, r.output);
    const order = r.stdout.split("\n").filter((l) => l.startsWith("⚪")).map((l) => l.split(" ")[1]);
    assertEquals(order, ["db:", "app:", "front:"]);
    assertStringIncludes(await Deno.readTextFile(join(dir, "work/proxy/proxy.conf")), "server app:8080;");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("multi-host roots that use resources: the controller brokers them in rounds and schedules itself", async () => {
  const dir = await exampleProject("multi");
  try {
    const r = await batou(dir, ["deploy", "dev", "-d"]);
    assertEquals(r.code, 0, r.output);
    // db -> app -> front: app needs db's values (round 2), front app's (round 3); no agent is asked for the schedule.
    assertMatch(r.stdout, /rpc → reconfigure/);
    assertStringIncludes(r.stdout, "configured in 3 round(s)");
    assertNotIncludes(r.stdout, "rootDependencies");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("multi-host roots without resources: each agent configures its own host, warnings once per root", async () => {
  const dir = await Deno.makeTempDir({ prefix: "batou-e2e-own-" });
  try {
    await writeFiles(dir, {
      "components/a/component.ts": `import { Component, File } from "batou";
export class A extends Component {
  override configure() {
    this.add(new File("greeting", { content: "hello from " + this.host.name + "\\n" }));
    new File("never-added");
  }
}
`,
      "environments/dev/environment.cfg": "[environment]\nconnect_method = local\n\n[hosts]\nweb1 = a\nweb2 = a\n",
    });
    const r = await batou(dir, ["deploy", "dev", "-d"]);
    assertEquals(r.code, 0, r.output);
    // No agent was asked for the schedule: no root used a resource, so none waits for another.
    assertNotIncludes(r.stdout, "rootDependencies");
    const warnings = r.stdout.split("\n").filter((l) => l.includes("initialized but never added"));
    assertEquals(warnings.length, 2, r.stdout);
    assertEquals(warnings.filter((l) => l.includes("web1")).length, 1, r.stdout);
    assertEquals(warnings.filter((l) => l.includes("web2")).length, 1, r.stdout);
    // Both "hosts" are this machine: the last one to deploy wrote the file.
    assertMatch(await Deno.readTextFile(join(dir, "work/a/greeting")), /^hello from web[12]\n$/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("who configures what: each agent its own host's roots, also with -c", async () => {
  const dir = await Deno.makeTempDir({ prefix: "batou-e2e-scope-" });
  try {
    await writeFiles(dir, {
      "components/a/component.ts": `import { Component } from "batou";
export class A extends Component {
  override configure() {
    Deno.writeTextFileSync(${JSON.stringify(join(dir, "configured"))}, Deno.pid + " " + this.host.name + "\\n", {
      append: true,
    });
  }
}
`,
      "environments/dev/environment.cfg": "[environment]\nconnect_method = local\n\n[hosts]\nweb1 = a\nweb2 = a\n",
    });
    const runs = async (args: string[]) => {
      await Deno.remove(join(dir, "configured")).catch(() => {});
      const r = await batou(dir, args);
      assertEquals(r.code, 0, r.output);
      const lines = (await Deno.readTextFile(join(dir, "configured"))).trim().split("\n").map((l) => l.split(" "));
      const byAgent = new Map<string, string[]>();
      for (const [pid, host] of lines) byAgent.set(pid, [...(byAgent.get(pid) ?? []), host].sort());
      return [...byAgent.values()].sort();
    };
    assertEquals(await runs(["deploy", "dev"]), [["web1"], ["web2"]]);
    assertEquals(await runs(["deploy", "dev", "-c"]), [["web1"], ["web2"]]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("predict shows the diff and touches nothing", async () => {
  const dir = await exampleProject("hello-world");
  try {
    assertEquals((await batou(dir, ["deploy", "dev"])).code, 0);
    const hello = join(dir, "work/hello/hello");
    await Deno.writeTextFile(hello, "Changed\n");
    const before = await fileIdentity(hello);
    const r = await batou(dir, ["deploy", "dev", "-P"]);
    assertEquals(r.code, 0, r.output);
    assertMatch(r.stdout, /=+ Predicting deployment actions =+/);
    assertStringIncludes(r.stdout, "🚀 localhost: Hello > File('work/hello/hello') > Content('hello')");
    assertStringIncludes(r.stdout, "  hello -Changed");
    assertStringIncludes(r.stdout, "  hello +Hello from batou");
    assertMatch(r.stdout, /DEPLOYMENT PREDICTION FINISHED/);
    assertEquals(await Deno.readTextFile(hello), "Changed\n");
    assertEquals(await fileIdentity(hello), before);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("predict on a fresh project creates no managed files", async () => {
  const dir = await exampleProject("hello-world");
  try {
    const r = await batou(dir, ["deploy", "dev", "-P"]);
    assertEquals(r.code, 0, r.output);
    assertStringIncludes(r.stdout, "  hello +Hello from batou");
    for (const f of ["hello", "hello.conf", "current"]) {
      await Deno.lstat(join(dir, "work/hello", f)).then(
        () => assert(false, `${f} was created in predict mode`),
        () => {},
      );
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("consistency check configures but does not deploy", async () => {
  const dir = await exampleProject("multi");
  try {
    const r = await batou(dir, ["deploy", "dev", "-c"]);
    assertEquals(r.code, 0, r.output);
    assertNotIncludes(r.stdout, "Deploying");
    assertNotIncludes(r.stdout, "Scheduling");
    assertMatch(r.stdout, /CONSISTENCY CHECK FINISHED/);
    assertMatch(r.stdout, /Consistency check took total=/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a missing environment is reported as batou does", async () => {
  const dir = await exampleProject("hello-world");
  try {
    const r = await batou(dir, ["deploy", "production"]);
    assertEquals(r.code, 1);
    assertStringIncludes(r.stdout, "ERROR: Missing environment\n    Environment: production\n");
    assertMatch(r.stdout, /DEPLOYMENT FAILED \(during load\)/);
    assertNotIncludes(r.output, "    at ");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("configuration errors of all roots are merged and reported, without stack traces", async () => {
  const dir = await Deno.makeTempDir({ prefix: "batou-e2e-errors-" });
  try {
    await writeFiles(dir, {
      "components/a/component.ts": `import { Component, attribute } from "batou";
export class A extends Component {
  port = attribute(Number, 80);
  override configure() { this.provide("a", this.port); }
}
`,
      "components/b/component.ts": `import { Component } from "batou";
export class B extends Component {
  override configure() { throw new Error("broken on purpose"); }
}
`,
      "environments/dev/environment.cfg": `[environment]
connect_method = local

[hosts]
web1 = a, b
web2 = a

[component:a]
port = eighty
`,
    });
    const r = await batou(dir, ["deploy", "dev"]);
    assertEquals(r.code, 1, r.output);
    assertStringIncludes(r.stdout, 'ERROR: could not convert string to number: "eighty"');
    assertStringIncludes(r.stdout, "      Attribute: A.port\n");
    assertStringIncludes(r.stdout, " Affected hosts: web1, web2\n");
    assertStringIncludes(r.stdout, "ERROR: Error: broken on purpose");
    assertStringIncludes(r.stdout, "components/b/component.ts:3");
    assertMatch(r.stdout, /=+ \d ERRORS - CONFIGURATION FAILED =+/);
    assertMatch(r.stdout, /DEPLOYMENT FAILED \(during connect\)/);
    assertNotIncludes(r.stdout, "Deploying");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a command failing during deploy reports the command, its output and the component", async () => {
  const dir = await Deno.makeTempDir({ prefix: "batou-e2e-cmdfail-" });
  try {
    await writeFiles(dir, {
      "components/cmdfail/component.ts": `import { Component, UpdateNeeded } from "batou";
export class CmdFail extends Component {
  override verify() { throw new UpdateNeeded(); }
  override async update() { await this.cmd("echo out; echo err >&2; exit 3"); }
}
`,
      "environments/dev/environment.cfg": "[environment]\nconnect_method = local\n\n[hosts]\nlocalhost = cmdfail\n",
    });
    const r = await batou(dir, ["deploy", "dev"]);
    assertEquals(r.code, 1, r.output);
    assertStringIncludes(r.stdout, "🚀 localhost: CmdFail\n");
    assertStringIncludes(r.stdout, "ERROR: echo out; echo err >&2; exit 3\n");
    assertStringIncludes(r.stdout, "    Return code: 3\n");
    assertMatch(r.stdout, /STDOUT\nout\n/);
    assertMatch(r.stdout, /STDERR\nerr\n/);
    assertMatch(r.stdout, /DEPLOYMENT FAILED \(during deploy\)/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a second deploy of the same project fails at once on the local lock", async () => {
  const dir = await exampleProject("hello-world");
  try {
    const lock = await Deno.open(join(dir, ".batou-lock"), { create: true, write: true });
    await lock.lock(true);
    await lock.write(
      new TextEncoder().encode('{"controller":"alice@box","pid":4242,"started":"2026-01-02T03:04:05Z"}\n'),
    );
    try {
      const r = await batou(dir, ["deploy", "dev"]);
      assertEquals(r.code, 1);
      assertStringIncludes(
        r.stderr,
        "Could not acquire lock .batou-lock (held by alice@box (pid 4242, started 2026-01-02T03:04:05Z))",
      );
    } finally {
      lock.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("usage errors exit with 2", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const r = await batou(dir, ["deploy"]);
    assertEquals(r.code, 2);
    assertStringIncludes(r.stderr, "usage:");
    const r2 = await batou(dir, ["deploy", "dev", "--bogus"]);
    assertEquals(r2.code, 2);
    // A negative number is a wrong value, not an "ambiguous" option (issue 16).
    for (
      const [args, message] of [
        [["-j", "-1"], "batou: error: --jobs takes a whole number >= 1"],
        [["--jobs", "-1"], "batou: error: --jobs takes a whole number >= 1"],
        [["-t", "-5"], "batou: error: --timeout takes a whole number of seconds >= 1"],
      ] as const
    ) {
      const r3 = await batou(dir, ["deploy", "dev", ...args]);
      assertEquals(r3.code, 2, args.join(" "));
      assertStringIncludes(r3.stderr, message);
      assert(!r3.output.includes("ambiguous"), r3.output);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("--report into a folder that does not exist fails at once and creates nothing", async () => {
  const dir = await exampleProject("hello-world");
  try {
    const target = join(dir, "no", "such", "r.json");
    const r = await batou(dir, ["deploy", "dev", "--report", target]);
    assertEquals(r.code, 1);
    assertStringIncludes(
      r.output,
      `ERROR: Cannot write the report ${target}: the directory ${join(dir, "no", "such")} does not exist`,
    );
    let created = true;
    try {
      await Deno.stat(join(dir, "no"));
    } catch {
      created = false;
    }
    assert(!created, "the report's folder was created");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
