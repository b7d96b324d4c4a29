/**
 * Issue 15, item 5: every answer of a hostile agent is checked against the contract (remote/contract/methods.ts).
 * host1's agent is the attacker's proxy (tests/security/hostile.ts) over the real sshd; each test forges one answer.
 */
import { assert, assertEquals, assertStringIncludes } from "../support/assert.ts";
import { assertNoStackTrace } from "../faults/harness.ts";
import { setRewrite } from "./hostile.ts";
import { withHostileHost1 } from "./hostile_project.ts";

const PREFIX = "btrep";

/** A rewrite of host1's answers to `method`: `body` changes `message` (its `result` or `error`). */
function onReply(method: string, body: string): string {
  return `if (calls.get(message.id) === ${JSON.stringify(method)}) { ${body} }\nreturn message;`;
}

Deno.test("a forged error field named like a method (fields.report) cannot replace the error's report", async () => {
  await withHostileHost1({ userPrefix: PREFIX }, async (p) => {
    await setRewrite(
      p.fixture.hosts[0],
      onReply(
        "configure",
        `message.result.errors = [{ type: "ConfigurationError", fields: { message: "forged failure", report: "x",
          sortKey: "y", fields: 1, toJSON: 2, sameAs: 3 }, affectedHostname: "host1" }];`,
      ),
    );
    const r = await p.deploy();
    assertEquals(r.code, 1, r.output);
    assertStringIncludes(r.output, "ERROR: forged failure");
    assert(!r.output.includes("is not a function"), r.output);
    assertNoStackTrace(r.output);
  });
});

Deno.test("fields: null in a configure error is an invalid reply naming the host and the field", async () => {
  await withHostileHost1({ userPrefix: PREFIX }, async (p) => {
    await setRewrite(
      p.fixture.hosts[0],
      onReply("configure", `message.result.errors = [{ type: "ConfigurationError", fields: null }];`),
    );
    const r = await p.deploy();
    assertEquals(r.code, 1, r.output);
    assertStringIncludes(
      r.output,
      "host1: the agent sent an invalid reply to configure (errors[0].fields must be an object, not null)",
    );
    assert(!r.output.includes("TypeError"), r.output);
    assertNoStackTrace(r.output);
  });
});

Deno.test("a null configure result, a mistyped field and a bad error answer are invalid replies", async () => {
  await withHostileHost1({ userPrefix: PREFIX }, async (p) => {
    const host1 = p.fixture.hosts[0];
    await setRewrite(host1, onReply("configure", "message.result = null;"));
    let r = await p.deploy();
    assertEquals(r.code, 1, r.output);
    assertStringIncludes(
      r.output,
      "host1: the agent sent an invalid reply to configure (the result must be an object, not null)",
    );
    assert(!r.output.includes("TypeError"), r.output);
    assertNoStackTrace(r.output);

    await setRewrite(
      host1,
      onReply(
        "configure",
        `message.result.errors = [{ type: "UnsatisfiedResources", fields: { unsatisfied: [["k", null, "r"]] } }];`,
      ),
    );
    r = await p.deploy();
    assertEquals(r.code, 1, r.output);
    assertStringIncludes(
      r.output,
      "host1: the agent sent an invalid reply to configure (errors[0].fields.unsatisfied must be a list of [key, " +
        "host or null, [root, ...]], not a list)",
    );
    assertNoStackTrace(r.output);

    await setRewrite(
      host1,
      onReply(
        "deploy",
        `message = { jsonrpc: "2.0", id: message.id, error: { code: -32000, message: "x",
          data: { errors: [{ type: "CmdExecutionError", fields: { returncode: "one" } }] } } };`,
      ),
    );
    r = await p.deploy();
    assertEquals(r.code, 1, r.output);
    assertStringIncludes(
      r.output,
      "host1: the agent sent an invalid reply to deploy (data.errors[0].fields.returncode must be a number, " +
        "not a string)",
    );
    assertNoStackTrace(r.output);
  });
});

Deno.test("an invalid output notification ends the host's connection with a clear error", async () => {
  await withHostileHost1({ userPrefix: PREFIX }, async (p) => {
    await setRewrite(
      p.fixture.hosts[0],
      `if (calls.get(message.id) === "configure") {
        return [{ jsonrpc: "2.0", method: "output", params: { cmd: "line", text: 42 } }, message];
      }
      return message;`,
    );
    const r = await p.deploy();
    assertEquals(r.code, 1, r.output);
    assertStringIncludes(
      r.output,
      "host1: the agent sent an invalid output notification (params.text must be a string, not a number)",
    );
    assertNoStackTrace(r.output);
  });
});
