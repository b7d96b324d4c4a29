/**
 * Issue 15, item 6: liveness. host1's agent is the attacker's proxy (tests/security/hostile.ts) over the real sshd.
 * An agent that stops answering fails the run with a clear message, a configure that never finishes is named, and
 * a long update() that awaits is no failure. Every run must end by itself (the harness's deadline would kill it).
 */
import { assert, assertEquals, assertStringIncludes } from "../support/assert.ts";
import { assertNoStackTrace } from "../faults/harness.ts";
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
