/**
 * Fault injection: two controllers (two copies of one project) deploy the same environment to the same hosts at
 * the same time. Exactly one deployment may run against a target directory: the other fails with a clear message
 * naming the holder (controller host name and pid), without having changed anything; once the first is done a
 * re-run of the second succeeds.
 */
import { holdUntilReleased } from "../support/components.ts";
import { join } from "node:path";
import { assert, assertEquals, assertMatch, assertStringIncludes } from "../support/assert.ts";
import { copyTree } from "../support/cli.ts";
import { waitForFile } from "../support/fs.ts";
import { assertNoStackTrace, faultProject, readIfThere, runBatou, sharedDir, spawnBatou, withSshd } from "./harness.ts";

const PREFIX = "bfconc";

const COMPONENTS = {
  "components/hello/component.ts": `import { attribute, Component, File } from "batou";
export class Hello extends Component {
  greeting = attribute(String, "hello");
  override configure() {
    this.add(new File("hello", { content: "{{ component.greeting }}\\n" }));
  }
}
`,
  "components/hold/component.ts": `import { attribute, Component, UpdateNeeded } from "batou";
export class Hold extends Component {
  dir = attribute(String, "/tmp");
  wait = attribute(Boolean, false);
  override verify() {
    if (this.wait) throw new UpdateNeeded();
  }
  override async update() {
${holdUntilReleased('this.dir + "/holding-" + this.host.name')}
  }
}
`,
};

Deno.test("two controllers deploy the same environment at once: one runs, the other fails naming the holder", async () => {
  await withSshd({ hosts: ["host1", "host2"], prefix: PREFIX }, async (fixture) => {
    const shared = await sharedDir();
    const cfg = (wait: boolean, greeting: string) =>
      `[hosts]\nhost1 = hello, hold\nhost2 = hello\n[component:hold]\ndir = ${shared}\nwait = ${wait}\n` +
      `[component:hello]\ngreeting = ${greeting}\n`;
    const a = await faultProject(fixture, { files: COMPONENTS, cfg: cfg(true, "from-a") });
    const b = await Deno.makeTempDir({ prefix: "batou-fault-copy-" });
    try {
      await copyTree(a.dir, b);
      await Deno.writeTextFile(
        join(b, "environments/prod/environment.cfg"),
        (await Deno.readTextFile(
          join(a.dir, "environments/prod/environment.cfg"),
        )).replace("greeting = from-a", "greeting = from-b").replace("wait = true", "wait = false"),
      );

      // 1. A holds both hosts (it waits in a component on host1); B starts meanwhile.
      const first = a.spawnDeploy();
      await waitForFile(join(shared, "holding-host1"), first.result, { timeoutMs: 120_000, intervalMs: 10 });
      const second = await runBatou(b, ["deploy", "prod"]);
      console.log(
        `[faults] while A holds: B exit ${second.code}: ${
          second.output.split("\n").filter((l) => /ERROR|held by|FAILED/.test(l))
        }`,
      );
      assertEquals(second.code, 1, second.output);
      assertNoStackTrace(second.output);
      assertStringIncludes(second.output, `File already locked: ${join(a.base("host1"), ".batou-lock-host1")}`);
      assertStringIncludes(second.output, `held by another deployment: ${Deno.hostname()} (pid ${first.child.pid},`);
      assertMatch(second.output, /DEPLOYMENT FAILED \(during connect\)/);
      // B changed nothing on any host.
      for (const h of ["host1", "host2"]) {
        const text = await readIfThere(join(a.base(h), "work/hello/hello"));
        assert(text !== "from-b\n", `B wrote to ${h} although A held the lock`);
      }
      await Deno.writeTextFile(join(shared, "release"), "");
      const ra = await first.result;
      assertEquals(ra.code, 0, ra.output);
      const rb = await runBatou(b, ["deploy", "prod"]);
      assertEquals(rb.code, 0, rb.output);
      for (const h of ["host1", "host2"]) {
        assertEquals(await Deno.readTextFile(join(a.base(h), "work/hello/hello")), "from-b\n");
      }

      // 2. Both start at the same moment, a few times: never both fail, never both run.
      await Deno.remove(join(shared, "release"));
      await a.setConfig(cfg(false, "from-a"));
      for (let round = 0; round < Number(Deno.env.get("FAULT_ROUNDS") ?? 8); round++) {
        const runs = [a.spawnDeploy(), spawnBatou(b, ["deploy", "prod"])];
        const results = await Promise.all(runs.map((r) => r.result));
        const codes = results.map((r) => r.code);
        console.log(`[faults] simultaneous round ${round}: exit codes ${codes}`);
        for (const r of results) {
          assert(!r.killed, r.output);
          assertNoStackTrace(r.output);
          if (r.code !== 0) assertMatch(r.output, /File already locked: .*\(held by another deployment: .*\(pid \d+,/);
        }
        assert(codes.includes(0), `both deployments failed:\n${results.map((r) => r.output).join("\n-----\n")}`);
      }
    } finally {
      await Deno.writeTextFile(join(shared, "release"), "").catch(() => {});
      await a.cleanup();
      await Deno.remove(b, { recursive: true }).catch(() => {});
      await Deno.remove(shared, { recursive: true }).catch(() => {});
    }
  });
});
