/**
 * Issue 15, item 6: liveness. host1's agent is the attacker's proxy (tests/security/hostile.ts) over the real sshd.
 * An agent that stops answering fails the run with a clear message, a configure that never finishes is named, and
 * a long update() that awaits is no failure. Every run must end by itself (the harness's deadline would kill it).
 */
import { assert, assertEquals, assertStringIncludes } from "../support/assert.ts";
import { agentPids, assertNoStackTrace, uidOf, waitFor } from "../faults/harness.ts";
import { join } from "../../core/runtime/path.ts";
import { setRewrite } from "./hostile.ts";
import { SOURCE_SINK, withHostileHost1 } from "./hostile_project.ts";

const PREFIX = "btliv";

Deno.test("an agent that never answers deploy: host1: the agent stopped responding, exit 1", async () => {
  await withHostileHost1({ userPrefix: PREFIX }, async (p) => {
    // From the deploy call on, host1 says nothing at all (no answer, no output, no answer to pings).
    await setRewrite(p.fixture.hosts[0], `return [...calls.values()].includes("deploy") ? [] : message;`);
    const r = await p.deploy("-t", "3");
    assert(!r.killed, `the run hung:\n${r.output}`);
    assertEquals(r.code, 1, r.output);
    assertStringIncludes(r.output, "host1: the agent stopped responding");
    assertStringIncludes(r.output, "DEPLOYMENT FAILED (during deploy)");
    assertNoStackTrace(r.output);
  });
});

Deno.test("an endless loop in configure with -t 3 is reported naming the component", async () => {
  await withHostileHost1({ userPrefix: PREFIX }, async (p) => {
    await p.write({
      "components/source/component.ts": SOURCE_SINK["components/source/component.ts"].replace(
        "override configure() {",
        "override configure() {\n    while (Date.now() > 0) { /* never ends */ }",
      ),
    });
    const r = await p.deploy("-t", "3");
    assert(!r.killed, `the run hung:\n${r.output}`);
    assertEquals(r.code, 1, r.output);
    assertStringIncludes(r.output, "host1: configure of component source did not finish within 3 s");
    assertStringIncludes(r.output, "DEPLOYMENT FAILED (during connect)");
    assertNoStackTrace(r.output);
    // The stuck agents were killed on their targets: no process spins on after the run.
    for (const h of p.fixture.hosts) {
      const uid = await uidOf(h.user);
      await waitFor(`the end of ${h.name}'s agent`, () => agentPids(uid).length ? undefined : true, {
        deadlineMs: 30_000,
        intervalMs: 100,
      });
    }
  });
});

Deno.test("an update() that awaits longer than -t 3 is legitimate: the agent answers pings meanwhile", async () => {
  await withHostileHost1({ userPrefix: PREFIX }, async (p) => {
    await p.write({
      "components/sink/component.ts": `import { Component, UpdateNeeded } from "batou";
export class Sink extends Component {
  token = "";
  override configure() {
    this.token = this.requireOne("token");
  }
  override verify() {
    throw new UpdateNeeded();
  }
  override async update() {
    await new Promise((resolve) => setTimeout(resolve, 7000));
  }
}
`,
    });
    const r = await p.deploy("-t", "3");
    assertEquals(r.code, 0, r.output);
    assertStringIncludes(r.output, "DEPLOYMENT FINISHED");
    assert(!r.output.includes("stopped responding"), r.output);
  });
});

Deno.test("when host1 stops responding, host2 is stopped at its next component boundary, as on Ctrl-C", async () => {
  const shared = await Deno.makeTempDir({ prefix: "batou-liv-" });
  await Deno.chmod(shared, 0o755);
  const release = join(shared, "release");
  // host2's root: a file, a component that waits for <shared>/release (at most 15 s, then goes on: no release comes
  // in the hostile run), then a second file.
  const files = {
    "components/source/component.ts": SOURCE_SINK["components/source/component.ts"],
    "components/waiter/component.ts": `import { attribute, Component, File, UpdateNeeded } from "batou";
class Hold extends Component {
  dir = attribute(String, "/tmp");
  override verify() {
    throw new UpdateNeeded();
  }
  override async update() {
    for (let i = 0; i < 150; i++) {
      try {
        await Deno.stat(this.dir + "/release");
        return;
      } catch { /* not yet */ }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}
export class Waiter extends Component {
  dir = attribute(String, "/tmp");
  override configure() {
    this.add(new File("before", { content: "before\\n" }));
    this.add(new Hold({ dir: this.dir }));
    this.add(new File("after-" + Math.random().toString(36).slice(2), { content: "after\\n" }));
  }
}
`,
  };
  try {
    await Deno.writeTextFile(release, "");
    const hosts = `host1 = source\nhost2 = waiter\n\n[component:waiter]\ndir = ${shared}\n`;
    await withHostileHost1({ userPrefix: PREFIX, files, hosts }, async (p) => {
      await Deno.remove(release);
      await setRewrite(p.fixture.hosts[0], `return [...calls.values()].includes("deploy") ? [] : message;`);
      const r = await p.deploy("-t", "3");
      assert(!r.killed, `the run hung:\n${r.output}`);
      assertEquals(r.code, 1, r.output);
      assertStringIncludes(r.output, "host1: the agent stopped responding");
      assertStringIncludes(r.output, "Stopped while deploying (1): host2: waiter");
      assertStringIncludes(r.output, "DEPLOYMENT FAILED (during deploy)");
      // host2 ended its running component and started no other: the file after it (named anew each run) is absent.
      const work = join(p.fixture.hosts[1].home, p.target, "work/waiter");
      const names = [...Deno.readDirSync(work)].map((e) => e.name);
      assertEquals(names.filter((n) => n.startsWith("after-")).length, 1, names.join(", ")); // the honest run's
      assertNoStackTrace(r.output);
    });
  } finally {
    await Deno.writeTextFile(release, "").catch(() => {});
    await Deno.remove(shared, { recursive: true }).catch(() => {});
  }
});
